//! Loyalty points as text: Skycore's `loyalty-points` and `secondary-loyalty-points` are free
//! text ("Special characters are allowed for this field", e.g. `$3$`, `$ 4 $`), so reading points
//! takes the number out of the text by one documented rule ([`number_in`]), reading a bonus %
//! accepts only what the adapter writes ([`rendered_number`]), and writing may wrap the number in
//! a configured display format (`{points} pts`).

use std::str::FromStr;

use walletport_core::{Decimal, Error, Result};

/// The placeholder of `points_format`.
pub const POINTS_PLACEHOLDER: &str = "{points}";
/// The placeholder of `bonus_format`.
pub const BONUS_PLACEHOLDER: &str = "{bonus}";

/// The number in a points text, by the rule documented in docs/providers/skycore.md:
/// the **first** run of digits, with `,` between digits dropped as a thousands separator and one
/// `.` followed by digits kept as the decimal point; a `-` directly before the digits makes it
/// negative. Everything else (currency signs, spaces, units) is ignored: `$3$` → 3,
/// `$ 4 $` → 4, `1,250.5 pts` → 1250.5, `-7` → −7. `None` when the text has no digit.
pub fn number_in(text: &str) -> Option<Decimal> {
    let bytes = text.as_bytes();
    let start = bytes.iter().position(u8::is_ascii_digit)?;
    let negative = start > 0 && bytes[start - 1] == b'-';
    let mut digits = String::new();
    if negative {
        digits.push('-');
    }
    let mut i = start;
    let mut seen_point = false;
    while i < bytes.len() {
        let b = bytes[i];
        let next_is_digit = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        match b {
            b'0'..=b'9' => digits.push(char::from(b)),
            b',' if !seen_point && next_is_digit => {}
            b'.' if !seen_point && next_is_digit => {
                seen_point = true;
                digits.push('.');
            }
            _ => break,
        }
        i += 1;
    }
    Decimal::from_str(&digits).ok().map(|d| d.normalize())
}

/// True when `text` is a plain number as we send it (`150.25`), so the card needs no raw copy.
///
/// Plain means [`plain_number`] reads it: what [`render`] writes without a format, and nothing
/// that `number_in` would read differently (`.5`, `1_000` and `+5` are not plain).
pub fn is_plain(text: &str) -> bool {
    plain_number(text).is_some()
}

/// The number of a plain-number text (surrounding whitespace ignored): an optional `-`, digits,
/// and optionally `.` and more digits, nothing else. `None` for anything else, so a caller that
/// must not guess (the bonus %) can tell a number it wrote from free text.
pub fn plain_number(text: &str) -> Option<Decimal> {
    exact_number(text.trim())
}

/// [`plain_number`] without trimming: the grammar must cover all of `text`.
fn exact_number(text: &str) -> Option<Decimal> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !fraction.is_none_or(digits) {
        return None;
    }
    // Too many digits for a `Decimal` is no number either (never an error: this reads vendor data).
    Decimal::from_str(text).ok().map(|d| d.normalize())
}

/// The number of `text` only when `text` is exactly what [`render`] writes for some number with
/// `format`: the plain number alone without a format (see [`plain_number`]), or the format's
/// literal text around a plain number (whitespace at the very start and end ignored).
///
/// Why not [`number_in`]: a field the adapter shares with passes made elsewhere (Skycore's
/// `secondary-loyalty-points` holds `699`, `$ 4 $` or a date `10-22-2020` on passes of the
/// vendor's examples) must not have a number read out of text the adapter never wrote. `None`
/// also for a format without its placeholder (never panics on configuration or vendor text).
pub fn rendered_number(text: &str, format: Option<&str>, placeholder: &str) -> Option<Decimal> {
    let Some(format) = format else {
        return plain_number(text);
    };
    let (before, after) = format.split_once(placeholder)?;
    let inner = text
        .trim()
        .strip_prefix(before.trim_start())?
        .strip_suffix(after.trim_end())?;
    exact_number(inner)
}

/// Checks a display format: exactly one `placeholder`, no other braces, and no digit in the
/// literal text (the read rule takes the first digits, so a digit there would be read back).
pub fn validate_format(key: &str, format: &str, placeholder: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::config(format!(
            "[provider] {key} = `{format}`: {why}"
        )))
    };
    if format.matches(placeholder).count() != 1 {
        return bad(&format!("must contain `{placeholder}` exactly once"));
    }
    let rest = format.replacen(placeholder, "", 1);
    if rest.contains(['{', '}']) {
        return bad(&format!("has braces other than `{placeholder}`"));
    }
    if rest.chars().any(|c| c.is_ascii_digit()) {
        return bad(
            "must not contain digits besides the placeholder (they would be read back as the balance)",
        );
    }
    if rest.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    Ok(())
}

/// The text sent for `value`: the plain number, or the configured format around it.
pub fn render(value: Decimal, format: Option<&str>, placeholder: &str) -> String {
    let plain = value.normalize().to_string();
    match format {
        Some(f) => f.replacen(placeholder, &plain, 1),
        None => plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<Decimal> {
        Decimal::from_str(s).ok()
    }

    #[test]
    fn the_documented_examples_and_the_edges() {
        for (text, want) in [
            ("$3$", d("3")),
            ("$ 4 $", d("4")),
            ("$ 45", d("45")),
            ("$5", d("5")),
            ("100", d("100")),
            ("150.25", d("150.25")),
            ("1,250.5 pts", d("1250.5")),
            ("-7", d("-7")),
            ("12. points", d("12")),
            ("3 of 10", d("3")),
            ("none", None),
            ("", None),
        ] {
            assert_eq!(number_in(text), want, "{text:?}");
        }
    }

    #[test]
    fn plain_numbers_are_only_what_render_writes() {
        for (text, want) in [
            ("15", d("15")),
            (" 7.5 ", d("7.5")),
            ("-7", d("-7")),
            ("15.0", d("15")),
            ("699", d("699")),
            ("", None),
            ("-", None),
            (".5", None),
            ("5.", None),
            ("+5", None),
            ("1_000", None),
            ("1,000", None),
            ("15%", None),
            ("$ 4 $", None),
            ("10-22-2020", None),
            ("1e5", None),
            ("99999999999999999999999999999999", None),
        ] {
            assert_eq!(plain_number(text), want, "{text:?}");
            assert_eq!(is_plain(text), want.is_some(), "{text:?}");
        }
    }

    #[test]
    fn a_rendered_number_must_match_the_format() {
        let pct = Some("{bonus}%");
        for (text, format, want) in [
            ("15", None, d("15")),
            ("15%", None, None),
            ("15%", pct, d("15")),
            (" 7.5% ", pct, d("7.5")),
            ("15", pct, None),
            ("15 %", pct, None),
            ("%", pct, None),
            ("x15%", pct, None),
            ("$ 4 $", pct, None),
            ("$ 4 $", Some("$ {bonus} $"), d("4")),
            ("Bonus: 3 %", Some("Bonus: {bonus} %"), d("3")),
            ("10-22-2020", pct, None),
            ("15%", Some("no placeholder"), None),
        ] {
            assert_eq!(
                rendered_number(text, format, BONUS_PLACEHOLDER),
                want,
                "{text:?} as {format:?}"
            );
        }
        let v = Decimal::new(1250, 2);
        for format in [None, pct, Some(" {bonus} % ")] {
            let sent = render(v, format, BONUS_PLACEHOLDER);
            assert_eq!(
                rendered_number(&sent, format, BONUS_PLACEHOLDER),
                Some(v.normalize()),
                "{sent:?}"
            );
        }
    }

    #[test]
    fn formats_are_validated_and_read_back() {
        assert!(validate_format("points_format", "{points} pts", POINTS_PLACEHOLDER).is_ok());
        for bad in ["pts", "{points} {points}", "{points} x2", "{points} {x}"] {
            let e = validate_format("points_format", bad, POINTS_PLACEHOLDER).unwrap_err();
            assert!(e.message().contains("[provider] points_format"), "{bad}");
        }
        let v = Decimal::new(12050, 2);
        let sent = render(v, Some("★ {points} pts"), POINTS_PLACEHOLDER);
        assert_eq!(sent, "★ 120.5 pts");
        assert_eq!(number_in(&sent), Some(v.normalize()));
        assert_eq!(render(v, None, POINTS_PLACEHOLDER), "120.5");
    }
}
