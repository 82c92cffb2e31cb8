//! The memory provider's configuration (`kind = "memory"` in the facade's `ProviderConfig`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use walletport_core::{Error, Result, TemplateId};

/// The id of the card design seeded into every fresh state when no other is configured.
pub const DEFAULT_TEMPLATE_ID: &str = "default";

/// The first card number handed out when no other is configured.
pub const DEFAULT_CARD_NUMBER_START: u64 = 1_000_000_001;

/// The page size used when a listing does not ask for one.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// The largest page a listing returns (also reported as `Capability::max_page_size`).
pub const MAX_PAGE_SIZE: u32 = 100;

/// How to run the in-memory provider.
///
/// Every key is optional so `kind = "memory"` alone is a working configuration; unknown keys are
/// rejected so a typo in a config file is an error rather than a silently ignored setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {
    /// Keep the state in this JSON file (loaded at open, rewritten atomically after every
    /// successful change) so separate processes — e.g. CLI invocations — see each other's
    /// changes. `None` keeps the state for the life of the process only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The template new cards use when the caller names none; seeded if it does not exist.
    /// Defaults to [`DEFAULT_TEMPLATE_ID`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_template: Option<TemplateId>,
    /// The first card number of a fresh state (numbers are sequential from here).
    /// Defaults to [`DEFAULT_CARD_NUMBER_START`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_number_start: Option<u64>,
    /// The page size of listings that do not ask for one, 1 to [`MAX_PAGE_SIZE`].
    /// Defaults to [`DEFAULT_PAGE_SIZE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
}

impl MemoryConfig {
    /// A configuration that keeps its state in `path`.
    pub fn with_path(path: impl Into<PathBuf>) -> Self {
        Self {
            path: Some(path.into()),
            ..Self::default()
        }
    }

    /// Checks the values serde cannot: ranges and the state file's directory.
    pub fn validate(&self) -> Result<()> {
        if self.card_number_start == Some(0) {
            return Err(Error::config(
                "memory: card_number_start must be at least 1",
            ));
        }
        if let Some(size) = self.page_size
            && !(1..=MAX_PAGE_SIZE).contains(&size)
        {
            return Err(Error::config(format!(
                "memory: page_size must be between 1 and {MAX_PAGE_SIZE}, got {size}"
            )));
        }
        if let Some(path) = &self.path {
            if path.as_os_str().is_empty() || path.file_name().is_none() {
                return Err(Error::config(format!(
                    "memory: path `{}` does not name a file",
                    path.display()
                )));
            }
            if let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
                && !dir.is_dir()
            {
                return Err(Error::config(format!(
                    "memory: the directory of `{}` does not exist",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn template_id(&self) -> Result<TemplateId> {
        match &self.default_template {
            Some(id) => Ok(id.clone()),
            None => TemplateId::new(DEFAULT_TEMPLATE_ID),
        }
    }

    pub(crate) fn page_size(&self) -> u32 {
        self.page_size.unwrap_or(DEFAULT_PAGE_SIZE)
    }

    pub(crate) fn card_number_start(&self) -> u64 {
        self.card_number_start.unwrap_or(DEFAULT_CARD_NUMBER_START)
    }
}
