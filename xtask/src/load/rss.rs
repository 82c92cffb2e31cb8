//! Resident memory of this process (benchmark 5): `VmRSS` and the peak `VmHWM` from
//! `/proc/self/status`, and resetting the peak between phases (`5` into `/proc/self/clear_refs`,
//! Linux ≥ 4.0) so each phase reports its own peak.

use serde::Serialize;

use super::backend::BackendKind;

/// One reading, in MiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Rss {
    /// Resident now.
    pub(crate) rss_mib: f64,
    /// Peak resident since the process started or the last [`reset_peak`].
    pub(crate) peak_mib: f64,
}

/// Reads `VmRSS` and `VmHWM`; zeros where `/proc` is not available (not Linux).
pub(crate) fn read() -> Rss {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    Rss {
        rss_mib: field_kib(&status, "VmRSS:") / 1024.0,
        peak_mib: field_kib(&status, "VmHWM:") / 1024.0,
    }
}

/// Resets the peak to the current RSS; false when the kernel does not allow it.
pub(crate) fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The value of a `Name:   1234 kB` line, in KiB.
fn field_kib(status: &str, name: &str) -> f64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Peak memory of one phase.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Memory {
    /// Which store.
    pub(crate) backend: BackendKind,
    /// What ran.
    pub(crate) phase: String,
    /// Resident before the phase (after seeding).
    pub(crate) before: Rss,
    /// Resident after it, with the peak during it.
    pub(crate) after: Rss,
    /// Whether the peak was reset at the start of the phase (else it covers the whole process).
    pub(crate) peak_reset: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_lines() {
        let status = "Name:\txtask\nVmHWM:\t  20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(field_kib(status, "VmHWM:"), 20480.0);
        assert_eq!(field_kib(status, "VmRSS:"), 10240.0);
        assert_eq!(field_kib(status, "VmSwap:"), 0.0);
    }

    #[test]
    fn reads_this_process_on_linux() {
        if cfg!(target_os = "linux") {
            let r = read();
            assert!(r.rss_mib > 0.0 && r.peak_mib >= r.rss_mib, "{r:?}");
        }
    }
}
