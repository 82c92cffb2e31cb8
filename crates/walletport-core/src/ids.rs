//! Identifier newtypes, so a card id is never passed where a customer id is expected.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::Error;

/// The longest identifier accepted from anyone.
pub const MAX_ID_LEN: usize = 256;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an identifier: 1 to 256 characters, no control characters.
            pub fn new(value: impl Into<String>) -> Result<Self, Error> {
                let value = value.into();
                let trimmed = value.trim();
                if trimmed.is_empty() {
                    return Err(Error::invalid_input(concat!($what, " must not be empty")));
                }
                if trimmed.len() > MAX_ID_LEN {
                    return Err(Error::invalid_input(concat!($what, " is longer than 256 bytes")));
                }
                if trimmed.chars().any(char::is_control) {
                    return Err(Error::invalid_input(concat!($what, " contains control characters")));
                }
                Ok(Self(trimmed.to_owned()))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::new(raw).map_err(|e| serde::de::Error::custom(e.message()))
            }
        }
    };
}

id_type!(
    /// The merchant's (CRM's) identifier of a customer.
    CustomerId, "customer id"
);
id_type!(
    /// A vendor's identifier of a card / pass.
    CardId, "card id"
);
id_type!(
    /// A vendor's identifier of a card design template.
    TemplateId, "template id"
);
id_type!(
    /// A vendor's identifier of a push campaign.
    CampaignId, "campaign id"
);
id_type!(
    /// The caller's identifier of a balance operation; the key of exactly-once crediting.
    TransactionId, "transaction id"
);
id_type!(
    /// A vendor's identifier of a customer segment.
    SegmentId, "segment id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_trimmed_and_validated() {
        assert_eq!(CardId::new(" 120 ").unwrap().as_str(), "120");
        assert!(CardId::new("").is_err());
        assert!(TransactionId::new("a\u{0}b").is_err());
        assert!(CustomerId::new("x".repeat(257)).is_err());
        assert!(serde_json::from_str::<CampaignId>("\"\"").is_err());
    }
}
