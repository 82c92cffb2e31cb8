//! Workspace layout, the "generated file" helpers and the tokio runtime shared by every task.
//!
//! The pattern is rust-analyzer's `ensure_file_contents(check)`: a task computes the full
//! contents of every file it owns, then either writes what differs or, in check mode, writes
//! nothing and reports what differs. The CLI and a `#[test]` run the same code.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The workspace root: the parent of this crate's manifest directory.
///
/// Located from `CARGO_MANIFEST_DIR` at compile time so `cargo xtask` works from any
/// directory inside the workspace.
pub(crate) fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The multi-threaded tokio runtime a task's async part runs on: `workers` threads (the
/// default, one per CPU, when `None`); one builder instead of one per task.
pub(crate) fn runtime(workers: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    builder
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

/// How one generated file compares with what is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileState {
    /// On disk with exactly the expected contents (line endings aside).
    Fresh,
    /// Not on disk.
    Missing,
    /// On disk with other contents (edited by hand, or its source changed).
    Stale,
}

/// Compares `path` with `contents`; in write mode (`check == false`) brings it up to date.
///
/// Returns the state found *before* any write, so callers can report what changed.
pub(crate) fn ensure_file_contents(
    path: &Path,
    contents: &str,
    check: bool,
) -> io::Result<FileState> {
    let state = match fs::read(path) {
        Ok(old) => {
            if normalize_newlines(&String::from_utf8_lossy(&old)) == contents {
                FileState::Fresh
            } else {
                FileState::Stale
            }
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => FileState::Missing,
        Err(err) => return Err(err),
    };
    if state != FileState::Fresh && !check {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(path, contents)?;
    }
    Ok(state)
}

/// Git may check files out with CRLF on Windows; that is not a difference worth failing on.
fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// `path` relative to `base` with `/` separators, for messages that do not depend on the OS.
pub(crate) fn display_relative(path: &Path, base: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_the_workspace() {
        let root = root();
        assert!(root.join("Cargo.toml").is_file());
        assert!(root.join("xtask").is_dir());
    }

    #[test]
    fn ensure_writes_only_outside_check_mode() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("a/b.json");
        assert_eq!(
            ensure_file_contents(&file, "x\n", true)?,
            FileState::Missing
        );
        assert!(!file.exists(), "check mode must not write");
        assert_eq!(
            ensure_file_contents(&file, "x\n", false)?,
            FileState::Missing
        );
        assert_eq!(fs::read_to_string(&file)?, "x\n");
        assert_eq!(ensure_file_contents(&file, "x\n", true)?, FileState::Fresh);
        fs::write(&file, "x\r\n")?;
        assert_eq!(ensure_file_contents(&file, "x\n", true)?, FileState::Fresh);
        fs::write(&file, "edited\n")?;
        assert_eq!(ensure_file_contents(&file, "x\n", true)?, FileState::Stale);
        assert_eq!(fs::read_to_string(&file)?, "edited\n");
        assert_eq!(ensure_file_contents(&file, "x\n", false)?, FileState::Stale);
        assert_eq!(fs::read_to_string(&file)?, "x\n");
        Ok(())
    }
}
