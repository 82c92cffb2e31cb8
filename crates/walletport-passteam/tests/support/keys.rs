//! The runs of Passteam keys that its fuzz vocabularies share: a card object's keys, which the
//! answers (`tests/fuzz_responses.rs`) and the webhooks (`tests/fuzz_webhooks.rs`) both carry.
//! Each vocabulary joins them with its own keys (`walletport_testkit::keys!`), in the order
//! its fuzz corpus was made with.
//!
//! Included by path (`#[path = "support/keys.rs"] mod keys;`) from both targets.

/// A card's identity, links, state and holder keys (`cardId` … `email`).
pub(crate) const CARD: &[&str] = &[
    "cardId",
    "cardCode",
    "cardUrl",
    "appleUrl",
    "googleUrl",
    "qrcodeUrl",
    "values",
    "deviceRegistered",
    "expirationDate",
    "voided",
    "phoneNumber",
    "email",
];

/// A card's template, import, install and timestamp keys (`templateId` … `updated`).
pub(crate) const CARD_META: &[&str] = &[
    "templateId",
    "importUid",
    "installedGPay",
    "installedAW",
    "installed",
    "created",
    "updated",
];
