//! `cargo xtask new-adapter NAME`: a one-command start for a new vendor adapter.
//!
//! Generates `crates/walletport-NAME/` (config, wire, mapping, client, lib, the conformance test,
//! the gateway scenario test and the response-fuzz test on the shared testkit harness),
//! a `walletport-sandbox` emulator skeleton `src/NAME.rs` with its `pub mod` line, the reference
//! stub `docs/providers/NAME.md`, and registers the adapter in the facade at the
//! `xtask:new-adapter:*` markers (cargo feature in `default`, optional dependency, config variant,
//! kind, available kind, capability line, connect line). Every capability starts off and every
//! port operation answers `Unsupported` (the ports' default methods), so right after generation
//! the workspace compiles, clippy is clean and the conformance suite passes.
//!
//! Refuses when the crate exists or the facade already names the adapter; an existing emulator
//! module or reference is kept. Every edit is computed before anything is written, so a missing
//! marker leaves the tree untouched.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::project::display_relative;

/// Arguments of `cargo xtask new-adapter`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// The vendor name: lowercase ASCII letters and digits, starting with a letter (it becomes
    /// the crate `walletport-NAME`, the config `kind` and the cargo feature).
    pub(crate) name: String,
}

/// Names that belong to the workspace's own crates.
const RESERVED: &[&str] = &[
    "core", "http", "memory", "sandbox", "testkit", "store", "server", "cli", "xtask",
];

const CARGO_TOML: &str = include_str!("../templates/adapter/crate/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("../templates/adapter/crate/src/lib.rs.tmpl");
const CONFIG_RS: &str = include_str!("../templates/adapter/crate/src/config.rs.tmpl");
const WIRE_RS: &str = include_str!("../templates/adapter/crate/src/wire.rs.tmpl");
const MAPPING_RS: &str = include_str!("../templates/adapter/crate/src/mapping.rs.tmpl");
const CLIENT_RS: &str = include_str!("../templates/adapter/crate/src/client.rs.tmpl");
const CONFORMANCE_RS: &str = include_str!("../templates/adapter/crate/tests/conformance.rs.tmpl");
const SCENARIO_RS: &str = include_str!("../templates/adapter/crate/tests/gateway_scenario.rs.tmpl");
const FUZZ_RESPONSES_RS: &str =
    include_str!("../templates/adapter/crate/tests/fuzz_responses.rs.tmpl");
const SANDBOX_RS: &str = include_str!("../templates/adapter/sandbox.rs.tmpl");
const PROVIDER_MD: &str = include_str!("../templates/adapter/provider.md.tmpl");

/// What a generation did, as paths relative to the workspace root.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Generated {
    /// Files written from the templates.
    pub(crate) created: Vec<String>,
    /// Existing files that got lines added.
    pub(crate) edited: Vec<String>,
    /// Files that existed and were left alone.
    pub(crate) kept: Vec<String>,
}

/// Runs the task against the workspace at `root`, printing what it did.
pub(crate) fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    let generated = generate(root, &args.name)?;
    format(root, &generated)?;
    let name = &args.name;
    let mut out = String::new();
    for (what, paths) in [
        ("created", &generated.created),
        ("edited ", &generated.edited),
        ("kept   ", &generated.kept),
    ] {
        for p in paths {
            out.push_str(&format!("  {what} {p}\n"));
        }
    }
    out.push_str(&format!(
        "next: cargo test -p walletport-{name}; then write docs/providers/{name}.md and \
         switch operations on one by one (docs/adding-an-adapter.md)\n"
    ));
    std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes())?;
    Ok(())
}

/// Checks that `name` can be a crate suffix, a Rust identifier, a cargo feature and a config kind.
pub(crate) fn validate_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 32;
    if !well_formed {
        bail!(
            "adapter name `{name}` must be 1-32 lowercase ASCII letters and digits, starting with a letter"
        );
    }
    if RESERVED.contains(&name) {
        bail!("adapter name `{name}` is taken by a workspace crate");
    }
    Ok(())
}

/// `skycore` → `Skycore`.
fn camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn render(template: &str, name: &str) -> String {
    template
        .replace("{{name}}", name)
        .replace("{{Name}}", &camel(name))
}

/// Inserts `lines` (each indented like the marker line) just above the line containing `marker`.
fn insert_above_marker(
    text: &str,
    marker: &str,
    lines: &[String],
    file: &str,
) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len() + 256);
    let mut found = false;
    for line in text.split_inclusive('\n') {
        if !found && line.contains(marker) {
            found = true;
            let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
            // rustfmt may move the marker comment behind code (`} // xtask:...`): keep that code
            // above the new lines and put the marker back on a line of its own.
            let body = &line[indent.len()..];
            let comment_at = body.find("// ").or_else(|| body.find("# ")).unwrap_or(0);
            let (code, comment) = body.split_at(comment_at);
            if !code.trim().is_empty() {
                out.push_str(&indent);
                out.push_str(code.trim_end());
                out.push('\n');
            }
            for l in lines {
                out.push_str(&indent);
                out.push_str(l);
                out.push('\n');
            }
            out.push_str(&indent);
            out.push_str(comment);
            continue;
        }
        out.push_str(line);
    }
    if !found {
        bail!("{file}: marker `{marker}` not found; add it back before scaffolding");
    }
    Ok(out)
}

/// Adds `"name"` to the `default = [...]` feature list.
fn join_default_feature(text: &str, name: &str, file: &str) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len() + 32);
    let mut done = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if !done && trimmed.starts_with("default = [") {
            let (Some(open), Some(close)) = (line.find('['), line.rfind(']')) else {
                bail!("{file}: the `default` feature list must be on one line");
            };
            let inner = line[open + 1..close].trim().trim_end_matches(',');
            let list = if inner.is_empty() {
                format!("\"{name}\"")
            } else {
                format!("{inner}, \"{name}\"")
            };
            out.push_str(&line[..=open]);
            out.push_str(&list);
            out.push_str(&line[close..]);
            done = true;
        } else {
            out.push_str(line);
        }
    }
    if !done {
        bail!("{file}: no `default = [...]` feature list");
    }
    Ok(out)
}

/// Adds `pub mod name;` after the last `pub mod` line of the sandbox's `lib.rs`.
fn add_sandbox_mod(text: &str, name: &str) -> Option<String> {
    let line = format!("pub mod {name};");
    if text.lines().any(|l| l.trim() == line) {
        return None;
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let last = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with("pub mod "))?;
    let mut out = String::with_capacity(text.len() + line.len() + 1);
    for (i, l) in lines.iter().enumerate() {
        out.push_str(l);
        if i == last {
            out.push_str(&line);
            out.push('\n');
        }
    }
    Some(out)
}

/// The facade's two files with the adapter registered.
fn facade_edits(root: &Path, name: &str) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let camel = camel(name);
    let cargo_path = root.join("crates/walletport/Cargo.toml");
    let config_path = root.join("crates/walletport/src/config.rs");
    let cargo = fs::read_to_string(&cargo_path)
        .with_context(|| format!("reading {}", cargo_path.display()))?;
    let config = fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    if config.contains(&format!("walletport_{name}::")) {
        bail!("the facade already registers `{name}`; new-adapter refuses to register it twice");
    }
    let cargo_file = "crates/walletport/Cargo.toml";
    let config_file = "crates/walletport/src/config.rs";
    let cfg = format!("#[cfg(feature = \"{name}\")]");
    let cargo = insert_above_marker(
        &cargo,
        "xtask:new-adapter:features",
        &[format!("{name} = [\"dep:walletport-{name}\"]")],
        cargo_file,
    )?;
    let cargo = join_default_feature(&cargo, name, cargo_file)?;
    let cargo = insert_above_marker(
        &cargo,
        "xtask:new-adapter:dependencies",
        &[format!(
            "walletport-{name} = {{ path = \"../walletport-{name}\", version = \"0.1.0\", optional = true }}"
        )],
        cargo_file,
    )?;
    let steps: [(&str, Vec<String>); 5] = [
        (
            "xtask:new-adapter:variant",
            vec![
                format!("/// The {camel} adapter."),
                cfg.clone(),
                format!("{camel}(walletport_{name}::{camel}Config),"),
            ],
        ),
        (
            "xtask:new-adapter:kind",
            vec![cfg.clone(), format!("Self::{camel}(_) => \"{name}\",")],
        ),
        (
            "xtask:new-adapter:available",
            vec![cfg.clone(), format!("\"{name}\",")],
        ),
        (
            "xtask:new-adapter:capability",
            vec![
                cfg.clone(),
                format!(
                    "kinds.push((\"{name}\", walletport_{name}::{camel}Provider::default_capability()));"
                ),
            ],
        ),
        (
            "xtask:new-adapter:connect",
            vec![
                cfg.clone(),
                format!(
                    "ProviderConfig::{camel}(c) => Arc::new(walletport_{name}::{camel}Provider::with_limiters(c.clone(), limiters)?),"
                ),
            ],
        ),
    ];
    let mut config = config;
    for (marker, lines) in steps {
        config = insert_above_marker(&config, marker, &lines, config_file)?;
    }
    Ok(vec![(cargo_path, cargo), (config_path, config)])
}

/// Generates the adapter `name` in the workspace at `root` (see the module docs).
pub(crate) fn generate(root: &Path, name: &str) -> anyhow::Result<Generated> {
    validate_name(name)?;
    let crate_dir = root.join(format!("crates/walletport-{name}"));
    if crate_dir.exists() {
        bail!(
            "{} exists already; new-adapter refuses to overwrite an adapter (remove it first to \
             regenerate)",
            display_relative(&crate_dir, root)
        );
    }
    // Compute every edit first: a missing marker must leave the tree untouched.
    let mut edits = facade_edits(root, name)?;
    let mut kept = Vec::new();
    let sandbox = root.join("crates/walletport-sandbox/src");
    let sandbox_file = sandbox.join(format!("{name}.rs"));
    let sandbox_dir = sandbox.join(name);
    let write_sandbox = !sandbox_file.exists() && !sandbox_dir.join("mod.rs").exists();
    if !write_sandbox {
        let existing = if sandbox_file.exists() {
            &sandbox_file
        } else {
            &sandbox_dir
        };
        kept.push(display_relative(existing, root));
    }
    let lib_path = sandbox.join("lib.rs");
    let lib =
        fs::read_to_string(&lib_path).with_context(|| format!("reading {}", lib_path.display()))?;
    if let Some(lib) = add_sandbox_mod(&lib, name) {
        edits.push((lib_path, lib));
    } else if !lib.lines().any(|l| l.trim() == format!("pub mod {name};")) {
        bail!("crates/walletport-sandbox/src/lib.rs has no `pub mod` line to add `{name}` after");
    }
    let doc = root.join(format!("docs/providers/{name}.md"));

    let mut files: Vec<(PathBuf, &str)> = vec![
        (crate_dir.join("Cargo.toml"), CARGO_TOML),
        (crate_dir.join("src/lib.rs"), LIB_RS),
        (crate_dir.join("src/config.rs"), CONFIG_RS),
        (crate_dir.join("src/wire.rs"), WIRE_RS),
        (crate_dir.join("src/mapping.rs"), MAPPING_RS),
        (crate_dir.join("src/client.rs"), CLIENT_RS),
        (crate_dir.join("tests/conformance.rs"), CONFORMANCE_RS),
        (crate_dir.join("tests/gateway_scenario.rs"), SCENARIO_RS),
        (crate_dir.join("tests/fuzz_responses.rs"), FUZZ_RESPONSES_RS),
    ];
    if write_sandbox {
        files.push((sandbox_file, SANDBOX_RS));
    }
    if doc.exists() {
        kept.push(display_relative(&doc, root));
    } else {
        files.push((doc, PROVIDER_MD));
    }

    let mut generated = Generated {
        kept,
        ..Generated::default()
    };
    for (path, template) in files {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fs::write(&path, render(template, name))
            .with_context(|| format!("writing {}", path.display()))?;
        generated.created.push(display_relative(&path, root));
    }
    for (path, contents) in edits {
        fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
        generated.edited.push(display_relative(&path, root));
    }
    Ok(generated)
}

/// Runs `rustfmt` over the generated and edited Rust files, so the output is `cargo fmt` clean
/// whatever the name's length does to line widths. The sandbox's `lib.rs` is left out: formatting
/// it would format every emulator module, and a `pub mod` line needs no formatting.
pub(crate) fn format(root: &Path, generated: &Generated) -> anyhow::Result<()> {
    let files: Vec<PathBuf> = generated
        .created
        .iter()
        .chain(&generated.edited)
        .filter(|p| p.ends_with(".rs") && !p.ends_with("walletport-sandbox/src/lib.rs"))
        .map(|p| root.join(p))
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    let status = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .args(&files)
        .current_dir(root)
        .status()
        .context("running rustfmt (install it with `rustup component add rustfmt`)")?;
    if !status.success() {
        bail!("rustfmt failed on the generated files");
    }
    Ok(())
}

#[cfg(test)]
mod marker_tests {
    use super::insert_above_marker;

    #[test]
    fn marker_moved_behind_code_by_rustfmt_is_split_off() -> anyhow::Result<()> {
        let text = "    match x {\n        A => {\n            a()\n        } // xtask:m\n    }\n";
        let out = insert_above_marker(text, "xtask:m", &["B => b(),".to_owned()], "f.rs")?;
        assert_eq!(
            out,
            "    match x {\n        A => {\n            a()\n        }\n        B => b(),\n        // xtask:m\n    }\n"
        );
        let plain = "    // xtask:m\n";
        let out = insert_above_marker(plain, "xtask:m", &["x".to_owned()], "f.rs")?;
        assert_eq!(out, "    x\n    // xtask:m\n");
        Ok(())
    }
}

#[cfg(test)]
#[path = "new_adapter_tests.rs"]
mod tests;
