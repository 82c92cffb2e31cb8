//! The runs of Passquare keys that its tests' key lists share: the card block of an issued
//! customer's answer (the fixture contract requires it, the answer fuzzing draws from it) and a
//! customer's loyalty and referral keys (alike in answers and in CRM hooks). Each list joins them
//! with its own keys (`walletport_testkit::keys!`), in the order its fuzz corpus was made with.
//!
//! Included by path (`#[path = "support/keys.rs"] mod keys;`) from `tests/fixture_contract.rs`,
//! `tests/fuzz_responses.rs` and `tests/fuzz_hooks.rs`.
#![allow(dead_code, reason = "each including test uses only some of the runs")]

/// The card block of a `user_create_or_update` answer, after its `success` flag.
pub(crate) const ISSUED_CARD: &[&str] = &[
    "sms_send",
    "card",
    "card_number",
    "card_track",
    "card_url",
    "card_gpay_url",
    "form_url",
    "user_hash",
];

/// A customer's loyalty and referral keys (`bonus` … `promo`).
pub(crate) const LOYALTY: &[&str] = &[
    "bonus",
    "discount",
    "remoteId",
    "customerId",
    "invitedBy",
    "invites",
    "template_uuid",
    "promo",
];
