//! The optional state file: loaded at open, replaced atomically after every successful change.
//!
//! A write goes to a temporary file in the same directory, is flushed to disk, then renamed over
//! the state file, so a reader (or a crash) sees either the old or the new state, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use walletport_core::{Error, Result};

use crate::state::{FORMAT, OLDEST_FORMAT, State};

/// Reads the state file; `None` when it does not exist yet.
pub(crate) fn load(path: &Path) -> Result<Option<State>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::unexpected(format!(
                "memory: cannot read state file `{}`",
                path.display()
            ))
            .with_source(e));
        }
    };
    let state: State = serde_json::from_slice(&bytes).map_err(|e| {
        Error::config(format!(
            "memory: `{}` is not a walletport memory state file: {e}",
            path.display()
        ))
        .with_source(e)
    })?;
    if !(OLDEST_FORMAT..=FORMAT).contains(&state.format) {
        return Err(Error::config(format!(
            "memory: `{}` has state format {}, this build reads formats {OLDEST_FORMAT} to \
             {FORMAT}",
            path.display(),
            state.format
        )));
    }
    // The ledgers converted while parsing; the next write stores the current format.
    let state = State {
        format: FORMAT,
        ..state
    };
    Ok(Some(state))
}

/// Writes `state` to `path` atomically (temp file + fsync + rename); on error the old file is
/// untouched and no temporary file is left behind.
pub(crate) fn save(path: &Path, state: &State) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(state)
        .map_err(|e| Error::unexpected("memory: cannot serialize the state").with_source(e))?;
    let tmp = temp_path(path);
    let result = write_new(&tmp, &bytes).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::unexpected(format!(
            "memory: cannot write state file `{}`",
            path.display()
        ))
        .with_source(e));
    }
    sync_dir(path);
    Ok(())
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// `.<name>.tmp-<pid>-<n>` next to the state file: same directory, so the rename is atomic.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Makes the rename durable where the platform allows; best effort, since the new state is
/// already visible and reporting an error now would make memory and file disagree.
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}
