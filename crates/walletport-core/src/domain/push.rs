use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::{CampaignId, SegmentId};

/// How a message reaches the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A wallet pass notification.
    #[default]
    Wallet,
    /// A browser web push.
    #[serde(alias = "web-push", alias = "web_push")]
    Webpush,
    /// A Telegram message.
    Telegram,
}

impl std::str::FromStr for Channel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "wallet" => Ok(Self::Wallet),
            "webpush" | "web-push" | "web_push" => Ok(Self::Webpush),
            "telegram" => Ok(Self::Telegram),
            other => Err(Error::invalid_input(format!(
                "unknown channel `{other}` (wallet, webpush, telegram)"
            ))),
        }
    }
}

/// A message to one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PushMessageRepr")]
pub struct PushMessage {
    text: String,
    channel: Channel,
}

#[derive(Deserialize)]
struct PushMessageRepr {
    text: String,
    #[serde(default)]
    channel: Channel,
}

impl TryFrom<PushMessageRepr> for PushMessage {
    type Error = Error;
    fn try_from(r: PushMessageRepr) -> Result<Self, Error> {
        PushMessage::new(r.text, r.channel)
    }
}

/// The longest message accepted before any provider-specific limit.
pub const MAX_MESSAGE_CHARS: usize = 4096;

fn check_message(text: &str) -> Result<(), Error> {
    if text.trim().is_empty() {
        return Err(Error::invalid_input("message must not be empty"));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Error::invalid_input(format!(
            "message is longer than {MAX_MESSAGE_CHARS} characters"
        )));
    }
    Ok(())
}

impl PushMessage {
    /// A non-empty message on a channel.
    pub fn new(text: impl Into<String>, channel: Channel) -> Result<Self, Error> {
        let text = text.into();
        check_message(&text)?;
        Ok(Self { text, channel })
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }
}

/// A message to everyone, or to a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// The text.
    pub message: String,
    /// The channel.
    #[serde(default)]
    pub channel: Channel,
    /// A name for the merchant's overview.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Restrict to one segment; `None` means everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentId>,
}

impl Campaign {
    /// Checks the message like [`PushMessage::new`] does.
    pub fn validate(&self) -> Result<(), Error> {
        check_message(&self.message)
    }
}

/// A created campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRecord {
    /// The id to send it by.
    pub id: CampaignId,
    /// What was created.
    pub campaign: Campaign,
    /// When it was sent, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// How many recipients it reached, if the vendor says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients: Option<u64>,
}

/// The vendor's acknowledgement of a push.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PushReceipt {
    /// Whether the vendor says it accepted the message.
    pub accepted: bool,
    /// The vendor's own words, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}
