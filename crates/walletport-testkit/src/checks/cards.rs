//! Cards: issue and read by every key, field updates, status changes, install links.

use walletport_core::{
    Card, CardKey, CardStatus, ErrorKind, Fields, GetCard, LinkDelivery, Provider, SendInstallLink,
    SetCardStatus, UpdateCard, op,
};

use super::expect_error;
use crate::report::{CheckError, CheckResult, Context};
use crate::suite::Suite;

/// The keys a card can be read by: its id, its number, its holder's phone.
fn keys(card: &Card, phone: &walletport_core::Phone) -> Vec<(&'static str, CardKey)> {
    let mut keys = Vec::new();
    keys.extend(card.id.clone().map(|id| ("id", CardKey::Id(id))));
    keys.extend(card.number.clone().map(|n| ("number", CardKey::Number(n))));
    keys.push(("holder's phone", CardKey::Phone(phone.clone())));
    keys
}

/// The best key of a card: its id, else its number.
fn key(card: &Card) -> Result<CardKey, CheckError> {
    match (&card.id, &card.number) {
        (Some(id), _) => Ok(CardKey::Id(id.clone())),
        (None, Some(number)) => Ok(CardKey::Number(number.clone())),
        (None, None) => Err(CheckError::Failed(
            "the card has neither id nor number".to_owned(),
        )),
    }
}

async fn get(provider: &dyn Provider, card: CardKey) -> walletport_core::Result<Card> {
    provider.cards().get_card(GetCard { card }).await
}

/// An issued card has an id or number and an install link, and reads back the same by id,
/// number and phone.
pub async fn card_issue_and_get(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["card_issue", "card_get"])?;
    let (phone, card) = suite.new_card(provider).await?;
    ensure!(
        card.id.is_some() || card.number.is_some(),
        "the card has neither id nor number: {card:?}"
    );
    let links = &card.links;
    ensure!(
        links.apple.is_some()
            || links.google.is_some()
            || links.page.is_some()
            || links.qr.is_some(),
        "the issued card has no install link: {card:?}"
    );
    ensure!(
        card.status == CardStatus::Active,
        "a new card is {:?}",
        card.status
    );
    for (what, key) in keys(&card, &phone) {
        let got = get(provider, key)
            .await
            .context(&format!("get by {what}"))?;
        ensure!(
            got.id == card.id && got.number == card.number,
            "get by {what} returned card {:?}/{:?}, expected {:?}/{:?}",
            got.id,
            got.number,
            card.id,
            card.number
        );
        ensure!(
            got.links == card.links,
            "get by {what} returned other links: {:?}",
            got.links
        );
    }
    Ok(())
}

/// A card that does not exist is `NotFound`.
pub async fn card_not_found(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["card_get"])?;
    let result = get(provider, CardKey::Id(suite.ghost_card())).await;
    expect_error(
        suite,
        result,
        ErrorKind::NotFound,
        op::CARD_GET,
        "an unknown card id",
    )
}

/// Updated fields are returned and read back.
pub async fn card_update_fields(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["card_update", "card_get"])?;
    let (_, card) = suite.new_card(provider).await?;
    let value = suite.name("gold");
    let fields = Fields::from([("level".to_owned(), value.clone())]);
    let key = key(&card)?;
    let updated = provider
        .cards()
        .update_card(UpdateCard {
            card: key.clone(),
            fields,
            balance: Default::default(),
            notification: None,
        })
        .await
        .context("update")?;
    ensure!(
        updated.fields.get("level") == Some(&value),
        "the update returned fields {:?}",
        updated.fields
    );
    let got = get(provider, key).await.context("get after update")?;
    ensure!(
        got.fields.get("level") == Some(&value),
        "the card reads fields {:?}",
        got.fields
    );
    Ok(())
}

/// A card can be voided and reactivated, and reads back in each state.
pub async fn card_status_change(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["card_set_status", "card_get"])?;
    let (_, card) = suite.new_card(provider).await?;
    let key = key(&card)?;
    for status in [CardStatus::Voided, CardStatus::Active] {
        let changed = provider
            .cards()
            .set_card_status(SetCardStatus {
                card: key.clone(),
                status,
            })
            .await
            .context(&format!("set {status:?}"))?;
        ensure!(
            changed.status == status,
            "set {status:?} returned {:?}",
            changed.status
        );
        let got = get(provider, key.clone())
            .await
            .context("get after status change")?;
        ensure!(
            got.status == status,
            "after set {status:?} the card reads {:?}",
            got.status
        );
    }
    Ok(())
}

/// The install link can be sent by SMS to the holder; for an unknown card it is `NotFound`.
pub async fn card_send_install_link(provider: &dyn Provider, suite: &Suite) -> CheckResult {
    suite.require(&["card_send_install_link"])?;
    let (_, card) = suite.new_card(provider).await?;
    let sms = LinkDelivery::Sms {
        phone: None,
        text: None,
    };
    provider
        .cards()
        .send_install_link(SendInstallLink {
            card: key(&card)?,
            delivery: sms.clone(),
        })
        .await
        .context("send install link")?;
    let result = provider
        .cards()
        .send_install_link(SendInstallLink {
            card: CardKey::Id(suite.ghost_card()),
            delivery: sms,
        })
        .await;
    expect_error(
        suite,
        result,
        ErrorKind::NotFound,
        op::CARD_SEND_INSTALL_LINK,
        "an unknown card",
    )
}
