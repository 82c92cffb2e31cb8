use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Fields;
use crate::ids::{CardId, TemplateId};

/// Where a customer installs the card: Apple Wallet, Google Wallet, a generic page, a QR image.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InstallLinks {
    /// Apple Wallet `.pkpass` link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apple: Option<String>,
    /// Google Wallet save link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub google: Option<String>,
    /// A web page that offers the right wallet for the device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// A QR code image leading to the card.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
}

/// Whether the card is installed on each platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Installed {
    /// Installed in Apple Wallet.
    pub apple: bool,
    /// Installed in Google Wallet.
    pub google: bool,
}

impl Installed {
    /// True when installed anywhere.
    pub fn any(self) -> bool {
        self.apple || self.google
    }
}

/// The life-cycle state of a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    /// Usable.
    #[default]
    Active,
    /// Cancelled by the merchant.
    Voided,
    /// Past its expiration.
    Expired,
    /// Used up (e.g. a coupon).
    Redeemed,
}

impl std::str::FromStr for CardStatus {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        match s.to_ascii_lowercase().as_str() {
            "active" => Ok(Self::Active),
            "voided" => Ok(Self::Voided),
            "expired" => Ok(Self::Expired),
            "redeemed" => Ok(Self::Redeemed),
            other => Err(crate::Error::invalid_input(format!(
                "unknown card status `{other}` (active, voided, expired, redeemed)"
            ))),
        }
    }
}

/// A wallet card (pass) as the vendor holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Card {
    /// The vendor's card id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<CardId>,
    /// The card number shown to the customer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The barcode / magnetic track value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    /// Install links.
    pub links: InstallLinks,
    /// Install state per platform.
    pub installed: Installed,
    /// Life-cycle state.
    pub status: CardStatus,
    /// Free-form fields (template variables) not mapped to the domain.
    #[serde(skip_serializing_if = "Fields::is_empty")]
    pub fields: Fields,
    /// The design template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateId>,
    /// When the card expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}
