//! What a provider can do: one flag per operation plus known limits.
//!
//! Callers check a flag before relying on an operation; the [`crate::checked`] layer turns calls
//! to operations whose flag is off into [`crate::ErrorKind::Unsupported`] before they reach the
//! adapter, and the conformance suite checks both directions for every provider.

use serde::Serialize;

macro_rules! capability {
    ($( $(#[$doc:meta])* $flag:ident ),* $(,)?) => {
        /// Flags (one per operation) and limits of a provider.
        ///
        /// `#[non_exhaustive]`: start from [`Capability::NONE`] and switch flags on.
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
        pub struct Capability {
            $( $(#[$doc])* pub $flag: bool, )*
            /// Largest page a listing returns, if the vendor caps it.
            pub max_page_size: Option<u32>,
            /// Most custom fields a card can carry, if known.
            pub max_fields: Option<u32>,
            /// Longest push message in characters, if known.
            pub max_message_len: Option<u32>,
        }

        impl Capability {
            /// Nothing supported; the starting point of every adapter.
            pub const NONE: Self = Self {
                $( $flag: false, )*
                max_page_size: None,
                max_fields: None,
                max_message_len: None,
            };

            /// Every flag on (the reference in-memory provider).
            pub const ALL: Self = Self {
                $( $flag: true, )*
                max_page_size: None,
                max_fields: None,
                max_message_len: None,
            };

            /// Every flag with its name, in declaration order (for matrices and JSON listings).
            pub fn flags(&self) -> Vec<(&'static str, bool)> {
                vec![$( (stringify!($flag), self.$flag), )*]
            }

            /// The names of all flags, in declaration order.
            pub const FLAG_NAMES: &'static [&'static str] = &[$( stringify!($flag), )*];
        }
    };
}

capability! {
    /// `status()`: account name and credit at the vendor.
    status,
    /// Create-or-update a customer by phone.
    customer_upsert,
    /// Find a customer by phone.
    customer_get_by_phone,
    /// Find a customer by card number / id.
    customer_get_by_card,
    /// Find a customer by the merchant's customer id.
    customer_get_by_id,
    /// List customers page by page.
    customer_list,
    /// Listing can filter by registration date range.
    customer_list_by_date,
    /// Listing can filter by installed / not installed.
    customer_list_by_installed,
    /// Delete a customer (or their card).
    customer_delete,
    /// Referral data (invited by, invites) on reads.
    customer_referrals,
    /// Issue a card for a customer.
    card_issue,
    /// Read a card.
    card_get,
    /// Update a card's free-form fields.
    card_update,
    /// Change a card's status (void, expire, redeem, reactivate).
    card_set_status,
    /// Send a card's install link by SMS or e-mail.
    card_send_install_link,
    /// Read a balance.
    balance_get,
    /// Set points / bonus % / discount %.
    balance_set,
    /// Credit points exactly once by transaction id, atomically at the vendor.
    balance_credit,
    /// Credits may carry a lifetime after which they burn.
    balance_credit_lifetime,
    /// Redeem (spend) points exactly once by transaction id, soonest-burning points first,
    /// refused with `InsufficientPoints` when the customer holds too few.
    balance_redeem,
    /// Push a wallet notification to one customer.
    push_wallet,
    /// Send a web push to one customer.
    push_webpush,
    /// Send a Telegram message to one customer.
    push_telegram,
    /// Create a campaign for everyone.
    campaign_create,
    /// Restrict a campaign to a segment.
    campaign_segment,
    /// Send a created campaign.
    campaign_send,
    /// List templates.
    template_list,
    /// Read a template.
    template_get,
    /// Create a template.
    template_create,
    /// Update a template.
    template_update,
}

impl Capability {
    /// Whether this provider can push on `channel` to one customer.
    pub fn push_on(&self, channel: crate::Channel) -> bool {
        match channel {
            crate::Channel::Wallet => self.push_wallet,
            crate::Channel::Webpush => self.push_webpush,
            crate::Channel::Telegram => self.push_telegram,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_and_all_cover_every_flag() {
        assert!(Capability::NONE.flags().iter().all(|(_, on)| !on));
        assert!(Capability::ALL.flags().iter().all(|(_, on)| *on));
        assert_eq!(Capability::ALL.flags().len(), Capability::FLAG_NAMES.len());
    }
}
