//! `cargo xtask console-screenshots`: a PNG of every console page, taken by headless Chromium
//! (Debian's `chromium` + `chromium-driver`, the browser test's setup) from a gateway on the
//! memory provider with demo customers, credits, a waiting item and a dead letter.

#[path = "../../crates/walletport-server/tests/support/browser.rs"]
mod browser;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use fantoccini::{Client, Locator};
use serde_json::json;
use walletport_core::{Checked, Provider};
use walletport_server::{Gateway, GatewayConfig, RunningGateway, start_on};
use walletport_store::{ClaimRequest, Failure, NewOutboxItem, OutboxKind, Store};

/// The demo gateway's API token (typed into the sign-in form).
const TOKEN: &str = "demo-console-token";

/// Demo customers: phone, first name, family name, points credited.
const DEMO: [(&str, &str, &str, u32); 6] = [
    ("+420700100001", "Alena", "Novakova", 120),
    ("+420700100002", "Bohdan", "Svoboda", 45),
    ("+420700100003", "Clara", "Dvorak", 300),
    ("+420700100004", "David", "Cerny", 0),
    ("+420700100005", "Eva", "Prochazkova", 75),
    ("+420700100006", "Filip", "Kucera", 10),
];

/// The console-screenshots arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Where the PNGs go (relative paths are under the workspace root).
    #[arg(long, default_value = "target/console-shots")]
    out: PathBuf,
    /// The browser window's width in CSS pixels.
    #[arg(long, default_value_t = 1280)]
    width: u32,
}

/// Starts the demo gateway, then photographs each page into `args.out`.
pub(crate) fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        root.join(&args.out)
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let tools = browser::find_tools().map_err(|e| anyhow!(e))?;
    let runtime = crate::project::runtime(Some(2))?;
    let started = Instant::now();
    let shots = runtime.block_on(shoot(&tools, &out, args.width))?;
    for shot in &shots {
        eprintln!("wrote {}", shot.display());
    }
    eprintln!(
        "{} screenshots in {:.1} s",
        shots.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The gateway's configuration: loopback port 0, the token, the worker on or off.
fn config(worker: bool) -> anyhow::Result<GatewayConfig> {
    let mut config = GatewayConfig::default();
    config.server.listen = "127.0.0.1:0".parse().context("loopback address")?;
    config.server.api_token = Some(TOKEN.to_owned().into());
    config.outbox.enabled = worker;
    config.outbox.poll_interval = Duration::from_millis(50);
    Ok(config)
}

/// A gateway over `store` and `provider` on a free loopback port.
async fn gateway(
    store: &Arc<dyn Store>,
    provider: &Arc<dyn Provider>,
    worker: bool,
) -> anyhow::Result<RunningGateway> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the gateway listener")?;
    let gw = Gateway::new(store.clone(), provider.clone());
    walletport_server::check_provider(&gw)
        .await
        .map_err(|e| anyhow!("provider check: {e}"))?;
    start_on(listener, &config(worker)?, gw)
        .await
        .map_err(|e| anyhow!("starting the gateway: {e}"))
}

/// Creates the demo customers and their credits through the REST API.
async fn seed(base: &str) -> anyhow::Result<()> {
    let api = reqwest::Client::new();
    for (phone, name, surname, points) in DEMO {
        let email = format!("{}@example.com", name.to_lowercase());
        let customer = json!({ "phone": phone, "name": name, "surname": surname, "email": email });
        let url = format!("{base}/api/customers");
        post(&api, &url, &customer, &format!("creating {phone}")).await?;
        if points > 0 {
            let credit =
                json!({ "amount": points.to_string(), "transaction_id": format!("demo-{phone}") });
            let url = format!("{base}/api/customers/{phone}/credits");
            post(&api, &url, &credit, &format!("crediting {phone}")).await?;
        }
    }
    Ok(())
}

/// POSTs `body` with the demo token; an answer other than 2xx fails, named `what`, with its body.
async fn post(
    api: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    what: &str,
) -> anyhow::Result<()> {
    let resp = api.post(url).bearer_auth(TOKEN).json(body).send().await?;
    if !resp.status().is_success() {
        bail!("{what}: {}", resp.text().await.unwrap_or_default());
    }
    Ok(())
}

/// Waits (bounded) until the worker has delivered everything.
async fn drained(store: &Arc<dyn Store>) -> anyhow::Result<()> {
    let started = Instant::now();
    while store.outbox_stats(chrono::Utc::now()).await?.depth > 0 {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the outbox did not drain within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A dead letter for the second customer (a card change the vendor refused) and a waiting
/// balance change for the third, with the worker stopped so both stay.
async fn outbox_demo(store: &Arc<dyn Store>) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let mut ids = Vec::new();
    for (phone, kind) in [
        (DEMO[1].0, OutboxKind::Card),
        (DEMO[2].0, OutboxKind::Balance),
    ] {
        let key = walletport_core::CustomerKey::Phone(walletport_core::Phone::parse(phone)?);
        let customer = store
            .get_customer(&key)
            .await?
            .ok_or_else(|| anyhow!("demo customer {phone} is missing"))?;
        let item = NewOutboxItem {
            customer_id: customer.id,
            kind,
            payload: json!({}),
        };
        ids.push(store.enqueue(&item, now).await?);
    }
    let claim = ClaimRequest {
        worker: "demo".into(),
        limit: 10,
        lease: Duration::from_secs(60),
        now,
    };
    store.claim_batch(&claim).await?;
    let fail = |error: &str, retry_at| Failure {
        error: error.into(),
        retry_at,
        max_attempts: 5,
        now,
    };
    store
        .fail(
            "demo",
            &ids[..1],
            &fail(
                "InvalidInput: the vendor refused the card: template 7 is archived (HTTP 422)",
                None,
            ),
        )
        .await?;
    store
        .fail(
            "demo",
            &ids[1..],
            &fail(
                "VendorUnavailable: connection reset by the vendor",
                Some(now),
            ),
        )
        .await?;
    Ok(())
}

/// Resizes the window to the page's full height, then saves a PNG as `out/name.png`.
async fn snap(c: &Client, width: u32, out: &Path, name: &str) -> anyhow::Result<PathBuf> {
    // Shrink first: a page is never shorter than the window it was measured in.
    c.set_window_size(width, 600).await?;
    let height = c
        .execute("return document.documentElement.scrollHeight;", Vec::new())
        .await?
        .as_u64()
        .unwrap_or(900);
    let height = u32::try_from(height.clamp(600, 4000)).unwrap_or(900);
    c.set_window_size(width, height + 90).await?;
    let png = c.screenshot().await?;
    let path = out.join(format!("{name}.png"));
    std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Opens `path` and waits for `marker` on the page.
async fn open(c: &Client, base: &str, path: &str, marker: &str) -> anyhow::Result<()> {
    c.goto(&format!("{base}{path}")).await?;
    wait_text(c, marker).await
}

/// Clicks the element `target` finds.
async fn click(c: &Client, target: Locator<'_>) -> anyhow::Result<()> {
    c.find(target).await?.click().await?;
    Ok(())
}

/// Waits (bounded) until the page's text contains `marker`.
async fn wait_text(c: &Client, marker: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        // The page may be replaced between finding the body and reading it: try again.
        let text = match c.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(marker) {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(15) {
            bail!("the page never showed {marker:?}; it shows:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sets up the demo gateway and photographs every page.
async fn shoot(tools: &browser::Tools, out: &Path, width: u32) -> anyhow::Result<Vec<PathBuf>> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    let store = walletport_store::connect(&url)
        .await
        .map_err(|e| anyhow!("store: {e}"))?;
    let memory = walletport_memory::MemoryProvider::open(&Default::default())
        .map_err(|e| anyhow!("memory provider: {e}"))?;
    let provider: Arc<dyn Provider> = Checked::wrap(Arc::new(memory));

    // First with the worker, so the vendor has the customers; then without, so the outbox
    // keeps the demo's waiting item and dead letter.
    let seeding = gateway(&store, &provider, true).await?;
    seed(&seeding.base_url()).await?;
    drained(&store).await?;
    seeding.shutdown().await;
    outbox_demo(&store).await?;
    let running = gateway(&store, &provider, false).await?;
    let base = running.base_url();

    let chrome = browser::Browser::launch(tools, width, 900)
        .await
        .map_err(|e| anyhow!(e))?;
    let result = pages(&chrome.client, &base, width, out, dir.path()).await;
    chrome.close().await;
    running.shutdown().await;
    store.close().await;
    result
}

/// Walks through the console as an operator would, one screenshot per page.
async fn pages(
    c: &Client,
    base: &str,
    width: u32,
    out: &Path,
    tmp: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut shots = Vec::new();
    open(c, base, "/", "Sign in").await?;
    shots.push(snap(c, width, out, "01-sign-in").await?);
    c.find(Locator::Id("token")).await?.send_keys(TOKEN).await?;
    click(c, Locator::XPath("//button[normalize-space(.)='Sign in']")).await?;
    wait_text(c, DEMO[0].0).await?;
    shots.push(snap(c, width, out, "02-customers").await?);
    let full_name = format!("{} {}", DEMO[0].1, DEMO[0].2);
    click(c, Locator::LinkText(&full_name)).await?;
    wait_text(c, DEMO[0].0).await?;
    shots.push(snap(c, width, out, "03-customer").await?);
    open(c, base, "/console/outbox", "Dead letters").await?;
    shots.push(snap(c, width, out, "04-outbox").await?);
    click(c, Locator::Css("a[href$='/retry']")).await?;
    wait_text(c, "Retry a dead letter").await?;
    shots.push(snap(c, width, out, "05-outbox-retry-confirm").await?);
    for (path, marker, name) in [
        ("/console/campaigns", "Create a campaign", "06-campaigns"),
        ("/console/provider", "Capabilities", "07-provider"),
        ("/console/import", "Upload a CSV file", "08-import"),
    ] {
        open(c, base, path, marker).await?;
        shots.push(snap(c, width, out, name).await?);
    }
    let csv = tmp.join("customers.csv");
    std::fs::write(
        &csv,
        "phone,name,surname,balance\n+420700100007,Gita,Horakova,50\n\
         +420 700 100 008,Hana,Vesela,20\nnot-a-phone,Ivan,Marek,10\n+420700100009,Jan,Pokorny,ten\n",
    )?;
    c.find(Locator::Id("file"))
        .await?
        .send_keys(&csv.display().to_string())
        .await?;
    click(c, Locator::XPath("//button[normalize-space(.)='Import']")).await?;
    wait_text(c, "Bad rows").await?;
    shots.push(snap(c, width, out, "09-import-result").await?);
    Ok(shots)
}
