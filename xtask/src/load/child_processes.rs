//! `cargo xtask load hooks` split into processes: each (backend, hooks | hot | memory) part runs in
//! a fresh child process (`--phase hooks|hot|memory --backend KIND`), so every peak RSS of benchmark 5
//! starts from a clean process instead of the memory an earlier part left to the allocator. The
//! children print their own tables on stderr; this merges their JSON reports into one.

use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::backend::BackendKind;
use super::hooks_args::Args;
use super::hot_customer::{self, HotReport};
use super::release_rerun::REEXEC_ENV;
use super::stats::{ModeSummary, table_header, table_row};

/// Runs every part in a child process and prints the merged report.
pub(crate) fn run_parts(args: &Args) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let mut parts: Vec<(BackendKind, &str)> = Vec::new();
    if !args.hot_only {
        parts.extend(args.backend.kinds().into_iter().map(|k| (k, "hooks")));
    }
    if args.hot_customer > 0 {
        parts.extend(args.backend.kinds().into_iter().map(|k| (k, "hot")));
    }
    if args.rss_customers > 0 {
        parts.extend(args.backend.kinds().into_iter().map(|k| (k, "memory")));
    }
    let mut merged = json!({
        "benchmark": "load hooks",
        "cpus": std::thread::available_parallelism().map_or(1, usize::from),
        "seconds": args.seconds,
        "warmup": args.warmup,
        "customers": args.customers,
        "rss_customers": args.rss_customers,
        "store_connections": args.store_connections,
        "runs": [],
        "verified": [],
        "memory": [],
    });
    if args.hot_customer > 0 {
        merged["hot_customer_entries"] = json!(args.hot_customer);
        merged["hot_customer"] = json!([]);
    }
    for (kind, phase) in parts {
        let out = Command::new(&exe)
            .args(child_args(args, kind, phase))
            .env(REEXEC_ENV, "1")
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running the {} {phase} part", kind.name()))?;
        if !out.status.success() {
            bail!(
                "load hooks: the {} {phase} part failed ({})",
                kind.name(),
                out.status
            );
        }
        let part: Value = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("reading the {} {phase} part's report", kind.name()))?;
        for key in ["runs", "verified", "memory", "hot_customer"] {
            if part.get(key).is_none() {
                continue;
            }
            let items = part[key].as_array().cloned().unwrap_or_default();
            if let Some(all) = merged[key].as_array_mut() {
                all.extend(items);
            }
        }
    }
    let hot: Vec<HotReport> =
        serde_json::from_value(merged["hot_customer"].clone()).unwrap_or_default();
    let text = format!("{}{}", human(&merged), hot_customer::human(&hot));
    super::print_report(&text, &merged)?;
    if args.enforce {
        hot_customer::enforce(&hot)?;
    }
    Ok(())
}

fn child_args(args: &Args, kind: BackendKind, phase: &str) -> Vec<String> {
    let clients: Vec<String> = args.clients.iter().map(usize::to_string).collect();
    [
        "load",
        "hooks",
        "--phase",
        phase,
        "--backend",
        kind.name(),
        "--clients",
        &clients.join(","),
        "--seconds",
        &args.seconds.to_string(),
        "--warmup",
        &args.warmup.to_string(),
        "--customers",
        &args.customers.to_string(),
        "--rss-customers",
        &args.rss_customers.to_string(),
        "--hot-customer",
        &args.hot_customer.to_string(),
        "--store-connections",
        &args.store_connections.to_string(),
        "--pg",
        &args.pg.url,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// The merged report as the tables `docs/benchmarks.md` shows.
fn human(r: &Value) -> String {
    let num = |v: &Value| v.as_f64().unwrap_or(0.0);
    let text = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    let mut s = format!(
        "\nload hooks (merged): {} CPUs, {} s per run after {} s warm-up, {} customers, store pool {}\n{}",
        r["cpus"],
        r["seconds"],
        r["warmup"],
        r["customers"],
        r["store_connections"],
        if r["runs"].as_array().is_some_and(|runs| !runs.is_empty()) {
            table_header()
        } else {
            String::new()
        }
    );
    for run in r["runs"].as_array().into_iter().flatten() {
        let summary: ModeSummary = serde_json::from_value(run.clone()).unwrap_or_default();
        s.push_str(&table_row(
            &text(&run["backend"]),
            &text(&run["op"]),
            run["clients"].as_u64().unwrap_or(0),
            &summary,
        ));
    }
    for v in r["verified"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "{}: {} credits acknowledged, ledger grew by {}; baseline {} acknowledged, {} rows\n",
            text(&v["backend"]),
            v["acknowledged"],
            text(&v["ledger_growth"]),
            v["baseline_acknowledged"],
            v["baseline_rows"]
        ));
    }
    for m in r["memory"].as_array().into_iter().flatten() {
        s.push_str(&format!(
            "memory {} [{}]: RSS {:.1} MiB before, {:.1} MiB after, peak {:.1} MiB\n",
            text(&m["backend"]),
            text(&m["phase"]),
            num(&m["before"]["rss_mib"]),
            num(&m["after"]["rss_mib"]),
            num(&m["after"]["peak_mib"])
        ));
    }
    s
}
