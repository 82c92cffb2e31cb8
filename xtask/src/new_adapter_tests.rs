use std::path::Path;
use std::process::Command;

use super::*;

const FACADE_CARGO: &str = "[features]\n# xtask:new-adapter:features (comment)\ndefault = []\n\n[dependencies]\nserde.workspace = true\n# xtask:new-adapter:dependencies\n";
const FACADE_CONFIG: &str = "pub enum ProviderConfig {\n    Memory(M),\n    // xtask:new-adapter:variant\n}\nfn kind() {\n    match x {\n        // xtask:new-adapter:kind\n    }\n}\nconst A: &[&str] = &[\n    \"memory\",\n    // xtask:new-adapter:available\n];\nfn caps() {\n    // xtask:new-adapter:capability\n}\nfn connect() {\n    match c {\n        // xtask:new-adapter:connect\n    };\n}\n";

/// A workspace with just the files the generator edits.
fn fake_workspace() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    fs::create_dir_all(root.join("crates/walletport/src"))?;
    fs::create_dir_all(root.join("crates/walletport-sandbox/src"))?;
    fs::create_dir_all(root.join("docs/providers"))?;
    fs::write(root.join("crates/walletport/Cargo.toml"), FACADE_CARGO)?;
    fs::write(root.join("crates/walletport/src/config.rs"), FACADE_CONFIG)?;
    fs::write(
        root.join("crates/walletport-sandbox/src/lib.rs"),
        "//! x\n\npub mod common;\npub mod passquare;\n\npub use common::serve;\n",
    )?;
    Ok(dir)
}

#[test]
fn names_are_checked() {
    for good in ["acme", "pass2go"] {
        assert!(validate_name(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "Acme",
        "2go",
        "acme-pass",
        "acme_pass",
        "core",
        "memory",
    ] {
        assert!(validate_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn generation_registers_everywhere_and_refuses_to_run_twice() -> anyhow::Result<()> {
    let ws = fake_workspace()?;
    let root = ws.path();
    let generated = generate(root, "acme")?;
    for path in [
        "crates/walletport-acme/src/client.rs",
        "crates/walletport-sandbox/src/acme.rs",
        "docs/providers/acme.md",
        "crates/walletport-acme/tests/gateway_scenario.rs",
        "crates/walletport-acme/tests/fuzz_responses.rs",
    ] {
        assert!(
            generated.created.iter().any(|created| created == path),
            "{path} not in {:?}",
            generated.created
        );
    }
    let cargo = fs::read_to_string(root.join("crates/walletport/Cargo.toml"))?;
    assert!(cargo.contains("acme = [\"dep:walletport-acme\"]\n# xtask:new-adapter:features"));
    assert!(cargo.contains("default = [\"acme\"]"));
    assert!(cargo.contains("optional = true }\n# xtask:new-adapter:dependencies"));
    let config = fs::read_to_string(root.join("crates/walletport/src/config.rs"))?;
    for line in [
        "    #[cfg(feature = \"acme\")]\n    Acme(walletport_acme::AcmeConfig),\n    // xtask:new-adapter:variant",
        "        Self::Acme(_) => \"acme\",\n        // xtask:new-adapter:kind",
        "    \"acme\",\n    // xtask:new-adapter:available",
        "walletport_acme::AcmeProvider::default_capability()));\n    // xtask:new-adapter:capability",
        "walletport_acme::AcmeProvider::with_limiters(c.clone(), limiters)?),\n        // xtask:new-adapter:connect",
    ] {
        assert!(config.contains(line), "missing:\n{line}\nin:\n{config}");
    }
    let lib = fs::read_to_string(root.join("crates/walletport-sandbox/src/lib.rs"))?;
    assert!(lib.contains("pub mod passquare;\npub mod acme;\n"), "{lib}");
    let client = fs::read_to_string(root.join("crates/walletport-acme/src/client.rs"))?;
    assert!(client.contains("pub struct AcmeProvider"));
    assert!(!client.contains("{{"), "every placeholder is rendered");

    let before = fs::read_to_string(root.join("crates/walletport/src/config.rs"))?;
    let err = generate(root, "acme").expect_err("second run refuses");
    assert!(err.to_string().contains("exists already"), "{err}");
    fs::remove_dir_all(root.join("crates/walletport-acme"))?;
    let err = generate(root, "acme").expect_err("facade already registers it");
    assert!(err.to_string().contains("already registers"), "{err}");
    assert_eq!(
        fs::read_to_string(root.join("crates/walletport/src/config.rs"))?,
        before
    );
    Ok(())
}

#[test]
fn existing_emulator_and_reference_are_kept_and_a_missing_marker_writes_nothing()
-> anyhow::Result<()> {
    let ws = fake_workspace()?;
    let root = ws.path();
    fs::create_dir_all(root.join("crates/walletport-sandbox/src/acme"))?;
    fs::write(
        root.join("crates/walletport-sandbox/src/acme/mod.rs"),
        "//! mine\n",
    )?;
    fs::write(root.join("docs/providers/acme.md"), "# mine\n")?;
    let generated = generate(root, "acme")?;
    assert_eq!(
        generated.kept,
        vec![
            "crates/walletport-sandbox/src/acme".to_owned(),
            "docs/providers/acme.md".to_owned()
        ]
    );
    assert_eq!(
        fs::read_to_string(root.join("docs/providers/acme.md"))?,
        "# mine\n"
    );

    let ws = fake_workspace()?;
    let root = ws.path();
    fs::write(
        root.join("crates/walletport/src/config.rs"),
        FACADE_CONFIG.replace("// xtask:new-adapter:connect", ""),
    )?;
    let err = generate(root, "acme").expect_err("marker missing");
    assert!(
        err.to_string().contains("xtask:new-adapter:connect"),
        "{err}"
    );
    assert!(
        !root.join("crates/walletport-acme").exists(),
        "nothing written"
    );
    assert!(!root.join("crates/walletport-sandbox/src/acme.rs").exists());
    assert_eq!(
        fs::read_to_string(root.join("crates/walletport/Cargo.toml"))?,
        FACADE_CARGO
    );
    Ok(())
}

/// Copies the workspace sources (not targets, not git) for a build of the scaffold's output.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == "target" || name_str.starts_with("target-") || name_str == ".git" {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else {
            fs::copy(&path, to.join(&name))?;
        }
    }
    Ok(())
}

fn cargo(root: &Path, target: &Path, args: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(args)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .output()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "cargo {} failed:\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The scaffold's promise, end to end: in a copy of this workspace, `new-adapter` output is
/// rustfmt-clean, clippy-clean (with the facade registering it) and passes the conformance suite.
///
/// Builds into `<target>/scaffold-check` (its own lock, reused between runs), or into
/// `SCAFFOLD_TARGET_DIR`. Ignored by default because a cold build takes minutes; `.ci/run` runs
/// it explicitly.
#[test]
#[ignore = "builds a copy of the workspace (minutes when cold); run with --ignored"]
fn scaffold_output_compiles_and_passes_the_conformance_suite() -> anyhow::Result<()> {
    let root = crate::project::root();
    let ws = tempfile::tempdir()?;
    for item in [
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
        "README.md",
    ] {
        if root.join(item).exists() {
            fs::copy(root.join(item), ws.path().join(item))?;
        }
    }
    for dir in ["crates", "xtask", "docs", ".cargo"] {
        copy_tree(&root.join(dir), &ws.path().join(dir))?;
    }
    let generated = generate(ws.path(), "acme")?;
    format(ws.path(), &generated)?;
    // `SCAFFOLD_TARGET_DIR` lets CI reuse the main build's dependencies: `.ci/run` runs this test
    // binary directly (no outer cargo holding the target-dir lock) with it set to `target/`.
    let target = match std::env::var_os("SCAFFOLD_TARGET_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| root.join("target"))
            .join("scaffold-check"),
    };
    for command in [
        "fmt --check -p walletport-acme -p walletport",
        "clippy -p walletport-acme -p walletport --all-targets -- -D warnings",
        // The emulator skeleton lives in the sandbox library (other emulators' tests are not ours).
        "clippy -p walletport-sandbox --lib -- -D warnings",
        "test -p walletport-acme",
    ] {
        cargo(ws.path(), &target, &command.split(' ').collect::<Vec<_>>())?;
    }
    Ok(())
}
