// walletport console: shows every <time datetime="..."> in the browser's own time zone.
// Without JavaScript the server's UTC text stays. No inline scripts (the CSP forbids them).
(function () {
  "use strict";
  function localise() {
    var times = document.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime())) continue;
      el.title = el.textContent;
      el.textContent = at.toLocaleString(undefined, {
        year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", timeZoneName: "short"
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", localise);
  } else {
    localise();
  }
})();
