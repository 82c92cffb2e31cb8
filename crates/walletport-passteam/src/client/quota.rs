//! Learning the account's real plan from Passteam's rate-limit answer.
//!
//! The configured `quota` is a guess (the document gives only the ceiling a plan can be raised
//! to). "You can only make N requests per hour" states the account's hourly limit, so the
//! limiter's hourly window is lowered to N for the rest of the process, with one warning.

use std::time::Duration;

use walletport_core::{Error, ErrorKind};
use walletport_http::Limiter;

use crate::mapping::errors::rate_limit_number;

/// The hourly window's period.
pub(crate) const HOUR: Duration = Duration::from_secs(3600);

/// N of "You can only make N requests per hour"; `None` for other periods or texts.
pub(crate) fn hourly_limit(message: &str) -> Option<u32> {
    let n = rate_limit_number(message)?;
    let after = message.split("requests per").nth(1)?;
    if !after.trim_start().starts_with("hour") {
        return None;
    }
    u32::try_from(n).ok().filter(|n| *n > 0)
}

/// Lowers `limiter`'s hourly window when `error` is Passteam's hourly rate-limit answer with a
/// smaller N than in force; warns once per lowering. `true` when it lowered.
pub(crate) fn learn_plan(limiter: &dyn Limiter, error: &Error) -> bool {
    if error.kind() != ErrorKind::RateLimited {
        return false;
    }
    let Some(n) = error
        .vendor()
        .and_then(|v| v.message.as_deref())
        .and_then(hourly_limit)
    else {
        return false;
    };
    let configured = limiter.limit_of(HOUR);
    let lowered = limiter.lower_window(HOUR, n);
    if lowered {
        tracing::warn!(
            provider = super::NAME,
            configured,
            vendor_limit = n,
            "Passteam allows {n} requests per hour, fewer than the configured quota: the hourly \
             window is {n} for the rest of the process; set [provider] quota to the plan"
        );
    }
    lowered
}

#[cfg(test)]
mod tests {
    use super::*;
    use walletport_core::VendorError;
    use walletport_http::{QuotaLimiter, QuotaPlan};

    fn limited(message: &str) -> Error {
        Error::new(ErrorKind::RateLimited, "limited").with_vendor(VendorError {
            status: Some(429),
            code: None,
            message: Some(message.into()),
        })
    }

    #[test]
    fn the_hourly_answer_lowers_the_hourly_window_once() {
        let plan = QuotaPlan::parse("3000/h, 30000/d").unwrap_or_default();
        let limiter = QuotaLimiter::new(plan);
        assert!(learn_plan(
            &limiter,
            &limited("You can only make 500 requests per hour")
        ));
        assert!(!learn_plan(
            &limiter,
            &limited("You can only make 500 requests per hour")
        ));
        assert_eq!(limiter.limit_of(HOUR), Some(500));
        assert!(!learn_plan(
            &limiter,
            &limited("You can only make 100 requests per day")
        ));
        assert_eq!(limiter.limit_of(Duration::from_secs(86_400)), Some(30_000));
        let other = Error::new(
            ErrorKind::InvalidInput,
            "You can only make 1 requests per hour",
        );
        assert!(
            !learn_plan(&limiter, &other),
            "only a rate-limit error counts"
        );
        assert_eq!(hourly_limit("You can only make 0 requests per hour"), None);
    }
}
