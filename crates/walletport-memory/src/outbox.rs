//! What the memory provider "sent": install links, pushes, card notifications and campaigns,
//! recorded instead of delivered so tests (and CLI users) can see them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use walletport_core::{CampaignId, CardId, Channel, Phone};

/// One message the provider would have delivered.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboxEntry {
    /// A card's install link sent by SMS or e-mail.
    InstallLink {
        /// When.
        at: DateTime<Utc>,
        /// Which card.
        card: CardId,
        /// `sms` or `email`.
        via: String,
        /// The phone number or e-mail address it went to.
        to: String,
        /// The message text with `%link%` replaced, for SMS.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// The link itself.
        link: String,
    },
    /// A message pushed to one customer.
    Push {
        /// When.
        at: DateTime<Utc>,
        /// To whom.
        phone: Phone,
        /// On which channel.
        channel: Channel,
        /// The text.
        text: String,
    },
    /// The notification shown with a card update.
    CardNotification {
        /// When.
        at: DateTime<Utc>,
        /// Which card.
        card: CardId,
        /// The text.
        text: String,
    },
    /// A campaign sent.
    Campaign {
        /// When.
        at: DateTime<Utc>,
        /// Which campaign.
        id: CampaignId,
        /// The channel.
        channel: Channel,
        /// How many customers it reached.
        recipients: u64,
    },
}

impl OutboxEntry {
    /// The push channel, for `Push` and `Campaign` entries.
    pub fn channel(&self) -> Option<Channel> {
        match self {
            Self::Push { channel, .. } | Self::Campaign { channel, .. } => Some(*channel),
            Self::InstallLink { .. } | Self::CardNotification { .. } => None,
        }
    }
}
