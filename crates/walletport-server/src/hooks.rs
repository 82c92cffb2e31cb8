//! The inbound ports over the store: Passquare's CRM hooks ([`CrmHooks`]) and Passteam's card
//! webhooks ([`WalletEvents`]), with the echo rules of `docs/operations.md`:
//!
//! - Passquare `addBalance` credits exactly once (transaction id `pq:<id>`) and is **not** echoed:
//!   Passquare originated it and reads the balance back through `readBalance`.
//! - Passquare `createCustomer` registers without echo, except when the CRM already holds the
//!   customer with a balance or percentages that differ from what Passquare sent: then one sync is
//!   enqueued so the card shows the CRM's numbers (the CRM is the source of truth).
//! - Passteam webhooks change only card state the vendor itself owns: never echoed.
//! - `readBalance` answers the materialised balance (constant cost), shown as 0 while it is
//!   negative after a reversal of spent points, as the outbox sends it.

use std::sync::Arc;

use async_trait::async_trait;
use walletport_core::{
    Balance, CardId, CardStatus, CardTrack, CreditHook, CrmHooks, Customer, CustomerId,
    CustomerKey, Error, ErrorKind, Phone, ReadBalance, RegisterCustomer, Result, TransactionId,
    WalletEvent, WalletEventKind, WalletEvents,
};
use walletport_store::{
    CardPatch, CardUpdated, LedgerOp, NewCard, NewOutboxItem, OutboxKind, Percentages, SetPoints,
    Store, WriteOpts,
};

use crate::outbox::vendor_view;
use crate::state::Gateway;

/// The prefix of Passquare transaction ids in the ledger, so they never collide with the
/// merchant's own transaction ids.
pub const PASSQUARE_TX_PREFIX: &str = "pq:";

fn outcome<T>(result: &Result<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.kind().as_str(),
    }
}

/// `Conflict` when one of `cards` (by number, at its provider) is already held by a customer
/// other than the one with `phone`, so that a call which would attach it is refused before it
/// writes anything (the store refuses the same at `attach_card`, after the customer's write).
async fn refuse_held_cards(store: &dyn Store, phone: &Phone, cards: &[NewCard]) -> Result<()> {
    let attaching = store
        .get_customer(&CustomerKey::Phone(phone.clone()))
        .await?
        .map(|c| c.id);
    for card in cards {
        let Some(number) = card.number.as_deref() else {
            continue;
        };
        let Some(holder) = store
            .get_customer(&CustomerKey::Card(CardId::new(number)?))
            .await?
            .filter(|holder| Some(&holder.id) != attaching.as_ref())
        else {
            continue;
        };
        let held_here =
            store.list_cards(&holder.id).await?.iter().any(|held| {
                held.provider == card.provider && held.number.as_deref() == Some(number)
            });
        if held_here {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("card {number} belongs to another customer"),
            ));
        }
    }
    Ok(())
}

/// [`CrmHooks`] over the gateway's store (Passquare methods 1.1–1.3).
#[derive(Debug, Clone)]
pub struct StoreCrmHooks {
    gw: Gateway,
}

impl StoreCrmHooks {
    /// Hooks over `gw`'s store.
    pub fn new(gw: Gateway) -> Self {
        Self { gw }
    }

    async fn register(&self, input: RegisterCustomer) -> Result<CustomerId> {
        let now = self.gw.now();
        let opts = WriteOpts::at(now).no_echo();
        let mut customer: Customer = input.customer;
        // The CRM owns its ids; whatever the vendor sent as an id is not ours.
        customer.id = None;
        // Everything that can be refused is refused before the first write: a registration
        // that fails leaves the store as it was.
        customer.validate()?;
        let cards = Self::cards_to_attach(&input.card_numbers, &input.card_tracks)?;
        let points = input.balance.points.map(SetPoints::check).transpose()?;
        refuse_held_cards(self.gw.store.as_ref(), &customer.phone, &cards).await?;
        let up = self.gw.store.upsert_customer(&customer, opts).await?;
        for card in &cards {
            self.gw.store.attach_card(&up.id, card, opts).await?;
        }
        let sent = input.balance;
        if up.created {
            if let Some(points) = points.filter(|p| !p.is_zero()) {
                let tx = TransactionId::new(format!("{PASSQUARE_TX_PREFIX}register:{}", up.id))?;
                let op = LedgerOp::Set(SetPoints::new(points, tx)?);
                self.gw.store.apply(&up.id, &op, opts).await?;
            }
            if sent.bonus_percent.is_some() || sent.discount_percent.is_some() {
                let p = Percentages {
                    bonus: sent.bonus_percent,
                    discount: sent.discount_percent,
                };
                self.gw.store.set_percentages(&up.id, p, opts).await?;
            }
        } else {
            let crm = vendor_view(self.gw.store.balance(&up.id, now).await?);
            let mut shown = Balance::default();
            sent.apply(&mut shown);
            let differs = sent.points.is_some_and(|p| p.normalize() != crm.points)
                || sent.bonus_percent.is_some_and(|b| b != crm.bonus_percent)
                || sent
                    .discount_percent
                    .is_some_and(|d| d != crm.discount_percent);
            if differs {
                let item = NewOutboxItem {
                    customer_id: up.id.clone(),
                    kind: OutboxKind::Balance,
                    payload: serde_json::json!({
                        "reason": "passquare createCustomer showed another balance than the CRM",
                        "vendor_points": shown.points,
                    }),
                };
                self.gw.store.enqueue(&item, now).await?;
            }
        }
        Ok(up.id)
    }

    /// The Passquare cards a registration attaches, each checked as the store will check it.
    fn cards_to_attach(numbers: &[String], tracks: &[CardTrack]) -> Result<Vec<NewCard>> {
        if numbers.len() > RegisterCustomer::MAX_CARDS {
            return Err(Error::invalid_input(format!(
                "a customer is registered with at most {} cards",
                RegisterCustomer::MAX_CARDS
            )));
        }
        numbers
            .iter()
            .map(|number| {
                let card = NewCard {
                    provider: "passquare".into(),
                    number: Some(number.clone()),
                    track: tracks
                        .iter()
                        .find(|t| &t.card == number)
                        .map(|t| t.track.clone()),
                    ..NewCard::default()
                };
                card.validate()?;
                Ok(card)
            })
            .collect()
    }

    /// The customer a `readBalance` names by phone and card numbers ([`ReadBalance::holder`]):
    /// the first [`ReadBalance::MAX_CARDS`] numbers are looked up, unknown ones left out.
    async fn holder(&self, input: &ReadBalance) -> Result<CustomerId> {
        let store = &self.gw.store;
        let by_phone = store
            .get_customer(&CustomerKey::Phone(input.phone.clone()))
            .await?
            .map(|c| c.id);
        let mut by_cards = Vec::new();
        for number in input.card_numbers.iter().take(ReadBalance::MAX_CARDS) {
            let key = CustomerKey::Card(CardId::new(number.as_str())?);
            if let Some(c) = store.get_customer(&key).await? {
                by_cards.push(c.id);
            }
        }
        ReadBalance::holder(by_phone, by_cards)
    }

    async fn credit(&self, input: CreditHook) -> Result<()> {
        let customer = self.gw.customer_by_phone(&input.phone).await?;
        let credit = &input.credit;
        let id = credit.transaction_id().as_str();
        if PASSQUARE_TX_PREFIX.len() + id.len() > walletport_core::ids::MAX_ID_LEN {
            return Err(Error::invalid_input(format!(
                "Passquare transaction ids are kept under the prefix `{PASSQUARE_TX_PREFIX}`, so \
                 they may be at most {} bytes; this one has {}",
                walletport_core::ids::MAX_ID_LEN - PASSQUARE_TX_PREFIX.len(),
                id.len()
            )));
        }
        let tx = TransactionId::new(format!("{PASSQUARE_TX_PREFIX}{id}"))?;
        let credit = walletport_core::Credit::new(credit.amount(), tx, credit.lifetime())?;
        let opts = WriteOpts::at(self.gw.now()).no_echo();
        self.gw.store.credit(&customer.id, &credit, opts).await?;
        Ok(())
    }
}

#[async_trait]
impl CrmHooks for StoreCrmHooks {
    async fn register_customer(&self, input: RegisterCustomer) -> Result<CustomerId> {
        let result = self.register(input).await;
        self.gw
            .metrics
            .hook("passquare", "createCustomer", outcome(&result));
        result
    }

    async fn read_balance(&self, input: ReadBalance) -> Result<Balance> {
        let result = async {
            let id = self.holder(&input).await?;
            let balance = self.gw.store.balance(&id, self.gw.now()).await?;
            Ok(vendor_view(balance))
        }
        .await;
        self.gw
            .metrics
            .hook("passquare", "readBalance", outcome(&result));
        result
    }

    async fn credit_balance(&self, input: CreditHook) -> Result<()> {
        let result = self.credit(input).await;
        self.gw
            .metrics
            .hook("passquare", "addBalance", outcome(&result));
        result
    }
}

/// [`WalletEvents`] over the gateway's store (Passteam card webhooks).
///
/// Deduplication is durable and atomic: the webhook id is recorded in the store in the same
/// transaction as the card change (`CardPatch::event_id`), so a repeat — also after a restart, or
/// at another gateway sharing the database — changes nothing. An in-process claim
/// ([`walletport_passteam::MemoryDedup`]) in front of it keeps concurrent repeats from racing.
#[derive(Debug, Clone)]
pub struct StoreWalletEvents {
    gw: Gateway,
}

/// The provider name Passteam cards are stored under.
pub const PASSTEAM: &str = "passteam";

impl StoreWalletEvents {
    /// Events over `gw`'s store.
    pub fn new(gw: Gateway) -> Self {
        Self { gw }
    }

    fn patch(event: &WalletEvent) -> CardPatch {
        let card = &event.card;
        let mut patch = CardPatch {
            number: card.number.clone(),
            track: card.barcode.clone(),
            event_id: Some(event.event_id.clone()),
            ..CardPatch::default()
        };
        let links = &card.links;
        if links.apple.is_some() || links.google.is_some() || links.page.is_some() {
            patch.links = Some(links.clone());
        }
        match event.kind {
            WalletEventKind::Deleted => patch.remove = true,
            WalletEventKind::Uninstalled => {
                patch.installed_apple = Some(false);
                patch.installed_google = Some(false);
            }
            WalletEventKind::Created | WalletEventKind::Updated | WalletEventKind::Installed => {
                // The webhook carries the vendor's install flags; an install event without any
                // flag set does not tell which wallet, so it leaves the flags as they are.
                if card.installed.any() || event.kind != WalletEventKind::Installed {
                    patch.installed_apple = Some(card.installed.apple);
                    patch.installed_google = Some(card.installed.google);
                }
                patch.status = Some(card.status);
            }
        }
        patch
    }

    async fn handle(&self, event: WalletEvent) -> Result<&'static str> {
        let now = self.gw.now();
        let opts = WriteOpts::at(now).no_echo();
        let store = &self.gw.store;
        let Some(card_id) = event.card_id().cloned() else {
            store
                .record_inbound_event(PASSTEAM, &event.event_id, now)
                .await?;
            return Ok("no_card_id");
        };
        let patch = Self::patch(&event);
        match store.update_card(PASSTEAM, &card_id, &patch, opts).await? {
            CardUpdated::Applied(_) => return Ok("ok"),
            CardUpdated::Duplicate => return Ok("duplicate"),
            CardUpdated::NotFound => {}
        }
        // A card the CRM does not know yet: attach it to the holder (by phone), then apply.
        let Some(phone) = event.phone.clone().filter(|_| !patch.remove) else {
            let first = store
                .record_inbound_event(PASSTEAM, &event.event_id, now)
                .await?;
            return Ok(if first { "unknown_card" } else { "duplicate" });
        };
        let card = NewCard {
            provider: PASSTEAM.into(),
            vendor_card_id: Some(card_id.clone()),
            number: event.card.number.clone(),
            track: event.card.barcode.clone(),
            links: event.card.links.clone(),
            installed: event.card.installed,
            status: if event.kind == WalletEventKind::Deleted {
                CardStatus::Voided
            } else {
                event.card.status
            },
        };
        // Refused before the customer is written, so a refused event stores nothing.
        card.validate()?;
        refuse_held_cards(store.as_ref(), &phone, std::slice::from_ref(&card)).await?;
        let up = store.upsert_customer(&Customer::new(phone), opts).await?;
        store.attach_card(&up.id, &card, opts).await?;
        match store.update_card(PASSTEAM, &card_id, &patch, opts).await? {
            CardUpdated::Applied(_) => Ok("ok"),
            CardUpdated::Duplicate => Ok("duplicate"),
            CardUpdated::NotFound => Err(Error::unexpected(
                "the card attached a moment ago is not in the store",
            )),
        }
    }
}

#[async_trait]
impl WalletEvents for StoreWalletEvents {
    async fn on_wallet_event(&self, event: WalletEvent) -> Result<()> {
        let method = match event.kind {
            WalletEventKind::Created => "createCard",
            WalletEventKind::Updated => "updateCard",
            WalletEventKind::Deleted => "deleteCard",
            WalletEventKind::Installed => "installCard",
            WalletEventKind::Uninstalled => "unInstallCard",
        };
        let result = self.handle(event).await;
        let label = match &result {
            Ok(label) => label,
            Err(e) => e.kind().as_str(),
        };
        self.gw.metrics.hook("passteam", method, label);
        result.map(|_| ())
    }
}

/// The in-process claim in front of the durable deduplication (see [`StoreWalletEvents`]).
pub fn passteam_claims() -> Arc<walletport_passteam::MemoryDedup> {
    Arc::new(walletport_passteam::MemoryDedup::default())
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde_json::{Value, json};
    use walletport_http::HeaderMap;
    use walletport_passquare::PassquareHooksConfig;
    use walletport_passquare::hooks::{HookRequest, handle_hook};

    use super::*;

    async fn gateway(dir: &tempfile::TempDir) -> Gateway {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("hooks.db").display()
        );
        let store = walletport_store::connect(&url).await.expect("store");
        let memory = walletport_memory::MemoryProvider::open(&Default::default()).expect("memory");
        Gateway::new(store, Arc::new(memory))
    }

    /// A stored customer with one Passquare card and `points`.
    async fn holder(gw: &Gateway, phone: &str, card: &str, points: i64) {
        let opts = WriteOpts::at(gw.now());
        let customer = Customer::new(Phone::parse(phone).expect("phone"));
        let up = gw
            .store
            .upsert_customer(&customer, opts)
            .await
            .expect("upsert");
        let card = NewCard {
            provider: "passquare".into(),
            number: Some(card.to_owned()),
            ..NewCard::default()
        };
        gw.store
            .attach_card(&up.id, &card, opts)
            .await
            .expect("card");
        let tx = TransactionId::new(format!("seed:{phone}")).expect("tx");
        let op = LedgerOp::Set(SetPoints::new(Decimal::from(points), tx).expect("points"));
        gw.store.apply(&up.id, &op, opts).await.expect("points");
    }

    /// Sends a `readBalance` hook body through the Passquare handler over the store.
    async fn read(hooks: &StoreCrmHooks, phone: &str, cards: &[&str]) -> (u16, Value) {
        let customer = json!({"phone": phone, "cardNumbers": cards});
        call(hooks, "readBalance", customer).await
    }

    /// Sends a hook body with `method` and `customer` through the Passquare handler.
    async fn call(hooks: &StoreCrmHooks, method: &str, customer: Value) -> (u16, Value) {
        let body = json!({"crm_key": "k", "method": method, "customer": customer});
        let body = body.to_string();
        let answer = handle_hook(
            hooks,
            &PassquareHooksConfig::with_crm_key("k"),
            HookRequest {
                body: body.as_bytes(),
                headers: &HeaderMap::new(),
                peer: None,
            },
        )
        .await;
        (answer.status, answer.body)
    }

    #[tokio::test]
    async fn read_balance_identifies_the_holder_by_phone_and_card_number() {
        let dir = tempfile::tempdir().expect("dir");
        let gw = gateway(&dir).await;
        holder(&gw, "+420100000001", "120", 10).await;
        holder(&gw, "+420100000002", "121", 20).await;
        let hooks = StoreCrmHooks::new(gw);

        let (status, body) = read(&hooks, "+420100000001", &["120"]).await;
        assert_eq!((status, &body["balance"]), (200, &json!("10")), "{body}");
        let (status, body) = read(&hooks, "+420100000001", &["999"]).await;
        assert_eq!(
            (status, &body["balance"]),
            (200, &json!("10")),
            "an unknown card does not contradict the phone: {body}"
        );
        let (status, body) = read(&hooks, "+420100000099", &["121"]).await;
        assert_eq!(
            (status, &body["balance"]),
            (200, &json!("20")),
            "an unknown phone falls back to the card: {body}"
        );
        for (phone, cards) in [
            ("+420100000001", &["121"][..]),
            ("+420100000001", &["120", "121"][..]),
            ("+420100000099", &["120", "121"][..]),
        ] {
            let (status, body) = read(&hooks, phone, cards).await;
            assert_eq!(
                status, 400,
                "{phone} {cards:?} name different customers: {body}"
            );
            assert!(
                body["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("different"))
            );
            assert!(
                body.get("balance").is_none(),
                "no one's balance leaks: {body}"
            );
        }
        let (status, body) = read(&hooks, "+420100000099", &["999"]).await;
        assert_eq!(status, 400, "nobody: {body}");
    }

    #[tokio::test]
    async fn read_balance_shows_a_debt_as_zero() {
        let dir = tempfile::tempdir().expect("dir");
        let gw = gateway(&dir).await;
        holder(&gw, "+420100000003", "122", 0).await;
        let id = gw
            .customer(&CustomerKey::Card(CardId::new("122").expect("card")))
            .await
            .expect("holder")
            .id;
        let opts = WriteOpts::at(gw.now());
        let tx = |t: &str| TransactionId::new(t).expect("tx");
        let ops = [
            LedgerOp::Credit(
                walletport_core::Credit::new(Decimal::from(50), tx("c"), None).expect("credit"),
            ),
            LedgerOp::Set(SetPoints::new(Decimal::from(10), tx("s")).expect("set")),
            LedgerOp::Reverse(walletport_store::Reversal::of(tx("c"))),
        ];
        for op in &ops {
            gw.store.apply(&id, op, opts).await.expect("apply");
        }
        let stored = gw.store.balance(&id, gw.now()).await.expect("balance");
        assert_eq!(
            stored.points,
            Decimal::from(-40),
            "the store keeps the debt"
        );
        let hooks = StoreCrmHooks::new(gw);
        let (status, body) = read(&hooks, "+420100000003", &["122"]).await;
        assert_eq!((status, &body["balance"]), (200, &json!("0")), "{body}");
    }

    #[tokio::test]
    async fn a_refused_registration_stores_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let gw = gateway(&dir).await;
        holder(&gw, "+420100000004", "130", 5).await;
        let hooks = StoreCrmHooks::new(gw.clone());
        let many: Vec<String> = (0..=RegisterCustomer::MAX_CARDS)
            .map(|i| format!("9{i}"))
            .collect();
        let refused = [
            json!({"phone": "+420100000005", "balance": "-5", "cardNumbers": ["131"]}),
            json!({"phone": "+420100000005", "balance": "10000000000000", "cardNumbers": ["131"]}),
            json!({"phone": "+420100000005", "balance": 1, "cardNumbers": many}),
            json!({"phone": "+420100000005", "cardNumbers": ["131", "x".repeat(300)]}),
            json!({"phone": "+420100000005", "cardNumbers": ["131"],
                   "cardTracks": [{"card": "131", "track": "t".repeat(300)}]}),
            json!({"phone": "+420100000005", "balance": 3, "cardNumbers": ["131", "130"]}),
        ];
        for customer in refused {
            let (status, body) = call(&hooks, "createCustomer", customer.clone()).await;
            assert_eq!(status, 400, "{customer}: {body}");
            let phone = Phone::parse("+420100000005").expect("phone");
            let stored = gw.customer(&CustomerKey::Phone(phone)).await;
            assert!(stored.is_err(), "{customer} left a customer behind");
            let card = CustomerKey::Card(CardId::new("131").expect("card"));
            assert!(gw.customer(&card).await.is_err(), "{customer} left a card");
        }
        let depth = async || gw.store.outbox_stats(gw.now()).await.expect("stats").depth;
        let before = depth().await;
        let existing = json!({"phone": "+420100000004", "balance": "-1", "cardNumbers": ["130"]});
        let (status, body) = call(&hooks, "createCustomer", existing).await;
        assert_eq!(status, 400, "an existing customer is checked too: {body}");
        assert_eq!(
            depth().await,
            before,
            "a refused registration queues no sync"
        );
        let (status, body) = read(&hooks, "+420100000004", &["130"]).await;
        assert_eq!((status, &body["balance"]), (200, &json!("5")), "{body}");
    }

    /// A Passteam webhook for a card the store does not know yet.
    fn unknown_card_event(id: &str, vendor_card: &str, number: &str, phone: &str) -> WalletEvent {
        WalletEvent {
            event_id: id.to_owned(),
            kind: WalletEventKind::Created,
            card: walletport_core::Card {
                id: Some(CardId::new(vendor_card).expect("card id")),
                number: Some(number.to_owned()),
                ..walletport_core::Card::default()
            },
            phone: Some(Phone::parse(phone).expect("phone")),
            received_at: chrono::Utc::now(),
        }
    }

    #[tokio::test]
    async fn a_refused_webhook_for_an_unknown_card_stores_no_customer() {
        let dir = tempfile::tempdir().expect("dir");
        let gw = gateway(&dir).await;
        let opts = WriteOpts::at(gw.now());
        let holder = Customer::new(Phone::parse("+420100000006").expect("phone"));
        let up = gw
            .store
            .upsert_customer(&holder, opts)
            .await
            .expect("upsert");
        let held = NewCard {
            provider: PASSTEAM.into(),
            vendor_card_id: Some(CardId::new("pt-1").expect("id")),
            number: Some("P1".into()),
            ..NewCard::default()
        };
        gw.store
            .attach_card(&up.id, &held, opts)
            .await
            .expect("card");
        let events = StoreWalletEvents::new(gw.clone());
        let newcomer = "+420100000007";
        let taken = unknown_card_event("e1", "pt-2", "P1", newcomer);
        let mut oversized = unknown_card_event("e2", "pt-3", "P3", newcomer);
        oversized.card.links.page = Some(format!("https://x/{}", "l".repeat(5000)));
        for (event, kind) in [
            (taken, ErrorKind::Conflict),
            (oversized, ErrorKind::InvalidInput),
        ] {
            let refused = events.on_wallet_event(event).await.expect_err("refused");
            assert_eq!(refused.kind(), kind, "{refused}");
            let phone = CustomerKey::Phone(Phone::parse(newcomer).expect("phone"));
            assert!(
                gw.customer(&phone).await.is_err(),
                "a customer was left behind"
            );
        }
        let fine = unknown_card_event("e3", "pt-4", "P4", newcomer);
        events.on_wallet_event(fine).await.expect("attached");
        let card = CustomerKey::Card(CardId::new("P4").expect("card"));
        let stored = gw
            .customer(&card)
            .await
            .expect("the newcomer holds the card");
        assert_eq!(stored.customer.phone.as_str(), newcomer);
    }

    #[tokio::test]
    async fn a_passquare_transaction_id_too_long_for_its_prefix_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("dir");
        let gw = gateway(&dir).await;
        holder(&gw, "+420100000008", "140", 0).await;
        let hooks = StoreCrmHooks::new(gw.clone());
        let longest = walletport_core::ids::MAX_ID_LEN - PASSQUARE_TX_PREFIX.len();
        let credit =
            |tx: String| json!({"phone": "+420100000008", "sum": "2", "transactionId": tx});
        let (status, body) = call(&hooks, "addBalance", credit("t".repeat(longest + 1))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.to_string().contains("at most 253 bytes"), "{body}");
        let (status, body) = call(&hooks, "addBalance", credit("t".repeat(longest))).await;
        assert_eq!(status, 200, "{body}");
        let (_, body) = read(&hooks, "+420100000008", &["140"]).await;
        assert_eq!(body["balance"], json!("2"), "{body}");
    }
}
