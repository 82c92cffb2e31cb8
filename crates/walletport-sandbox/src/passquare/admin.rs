//! Admin endpoints (not part of Passquare; no `app_key`, not counted in the quota) and the CRM
//! hook caller: simulate a card install, which makes the emulator call the merchant's CRM with
//! `createCustomer` exactly as Passquare would, and the other two hooks on demand.

use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use walletport_core::Phone;

use super::api::{Fail, decimal, text};
use super::state::Segment;
use super::{CrmHookTarget, HookAuth, PassquareEmulator};

/// A simulated card install (`POST /_admin/install`): the customer fills the form and installs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    /// The phone (any international form).
    pub phone: String,
    /// Form data.
    #[serde(default)]
    pub name: Option<String>,
    /// Form data.
    #[serde(default)]
    pub surname: Option<String>,
    /// Form data.
    #[serde(default)]
    pub middlename: Option<String>,
    /// Form data.
    #[serde(default)]
    pub email: Option<String>,
    /// Form data, `yyyy-mm-dd`.
    #[serde(default)]
    pub birthday: Option<NaiveDate>,
    /// The phone of the customer whose referral link was used.
    #[serde(default)]
    pub refer_phone: Option<String>,
    /// Registration extras (`sex`, `promo` entered).
    #[serde(default)]
    pub extra: Option<Map<String, Value>>,
}

/// What a hook call returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookLogEntry {
    /// `createCustomer`, `readBalance` or `addBalance`.
    pub method: String,
    /// The body sent (without the `crm_key`).
    pub request: Value,
    /// HTTP status of the CRM's answer (`None` when it could not be reached).
    pub status: Option<u16>,
    /// The CRM's answer (JSON, or the text as a string), or the connection error.
    pub response: Value,
}

impl PassquareEmulator {
    /// Calls the configured CRM hook with `method` and `customer`, logs and returns the answer.
    pub async fn call_hook(&self, method: &str, customer: Value) -> Result<HookLogEntry, String> {
        let target: CrmHookTarget = self
            .shared
            .hook_target()
            .ok_or_else(|| "no CRM hook configured (crm_hook / POST /_admin/hook)".to_owned())?;
        let mut body = json!({"method": method, "customer": customer});
        let logged = body.clone();
        let mut req = self
            .shared
            .http
            .post(&target.url)
            .timeout(Duration::from_secs(10))
            .header("Content-Type", "application/json");
        for (name, value) in [
            ("X-organization-id", &target.organization_id),
            ("X-program-id", &target.program_id),
            ("X-wallet-id", &target.wallet_id),
        ] {
            if let Some(v) = value {
                req = req.header(name, v.as_str());
            }
        }
        match target.auth {
            HookAuth::Body => body["crm_key"] = json!(target.crm_key.clone().unwrap_or_default()),
            HookAuth::Basic => {
                let (user, password) = match (&target.basic_user, &target.basic_password) {
                    (Some(u), Some(p)) => (u.clone(), p.clone()),
                    _ => (String::new(), target.crm_key.clone().unwrap_or_default()),
                };
                req = req.basic_auth(user, Some(password));
            }
        }
        let entry = match req.body(body.to_string()).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                let response = serde_json::from_str(&text).unwrap_or(Value::String(text));
                HookLogEntry {
                    method: method.to_owned(),
                    request: logged,
                    status: Some(status),
                    response,
                }
            }
            Err(e) => HookLogEntry {
                method: method.to_owned(),
                request: logged,
                status: None,
                response: Value::String(format!("CRM unreachable: {e}")),
            },
        };
        self.shared.lock_logs().push(entry.clone());
        Ok(entry)
    }

    /// Simulates a card install: registers the customer if new (as the form would), gives them a
    /// card, marks it installed, records the referral, and calls `createCustomer` on the CRM hook
    /// (when configured); the CRM's `customerId` becomes the customer's `remoteId`.
    pub async fn install(&self, input: InstallRequest) -> Result<Value, String> {
        let phone = Phone::parse(&input.phone)
            .map_err(|e| e.message().to_owned())?
            .as_str()
            .to_owned();
        let refer = input
            .refer_phone
            .as_deref()
            .map(|p| Phone::parse(p).map(|p| p.as_str().to_owned()))
            .transpose()
            .map_err(|e| e.message().to_owned())?;
        let customer = {
            let now = self.shared.now();
            let mut st = self.shared.lock();
            let (i, _) = st.ensure_customer(&phone, now);
            st.ensure_card(i);
            if let Some(r) = &refer {
                st.refer(i, r);
            }
            let c = &mut st.customers[i];
            for (slot, value) in [
                (&mut c.name, &input.name),
                (&mut c.surname, &input.surname),
                (&mut c.middlename, &input.middlename),
                (&mut c.email, &input.email),
            ] {
                if value.is_some() {
                    slot.clone_from(value);
                }
            }
            if input.birthday.is_some() {
                c.birthday = input.birthday;
            }
            for (k, v) in input.extra.clone().unwrap_or_default() {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                c.extra.insert(k, v);
            }
            if let Some(card) = c.card.as_mut() {
                card.installed = true;
            }
            let n = self.shared.config.numbers;
            let card = c.card.clone();
            json!({
                "name": c.name, "surname": c.surname, "middlename": c.middlename,
                "email": c.email, "phone": c.phone,
                "birthday": c.birthday.map(|b| b.format("%Y-%m-%d").to_string()),
                "cardNumbers": card.iter().map(|k| k.number.clone()).collect::<Vec<_>>(),
                "cardTracks": card.iter().map(|k| json!({"card": k.number, "track": k.track})).collect::<Vec<_>>(),
                "extra": c.extra,
                "balance": n.encode(c.balance), "bonus": n.encode(c.bonus), "discount": n.encode(c.discount),
                "promo": c.promo,
                "referCustomerPhone": c.invited_by,
            })
        };
        let card_number = customer["cardNumbers"][0].clone();
        if self.shared.hook_target().is_none() {
            return Ok(json!({"installed": true, "card_number": card_number, "hook": null}));
        }
        let hook = self.call_hook("createCustomer", customer).await?;
        if hook.status == Some(200)
            && let Some(id) = hook.response.get("customerId").and_then(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| v.as_u64().map(|n| n.to_string()))
            })
        {
            let mut st = self.shared.lock();
            if let Some(i) = st.index(&phone) {
                st.customers[i].remote_id = Some(id);
            }
        }
        Ok(json!({"installed": true, "card_number": card_number, "hook": hook}))
    }

    /// Calls `readBalance` on the CRM for `phone` (as when a customer refreshes the card).
    pub async fn read_balance_hook(&self, phone: &str) -> Result<HookLogEntry, String> {
        let (phone, cards) = self.phone_and_cards(phone)?;
        self.call_hook("readBalance", json!({"phone": phone, "cardNumbers": cards}))
            .await
    }

    /// Calls `addBalance` on the CRM; `lifetime` is sent as given (seconds in 2.7.5, days in the
    /// examples version: the CRM's configuration decides how it reads it).
    pub async fn add_balance_hook(
        &self,
        phone: &str,
        sum: rust_decimal::Decimal,
        transaction_id: &str,
        lifetime: Option<u64>,
    ) -> Result<HookLogEntry, String> {
        let (phone, cards) = self.phone_and_cards(phone)?;
        let mut customer = json!({
            "phone": phone, "cardNumbers": cards,
            "sum": self.shared.config.numbers.encode(sum),
            "transactionId": transaction_id,
        });
        if let Some(l) = lifetime {
            customer["lifetime"] = json!(l);
        }
        self.call_hook("addBalance", customer).await
    }

    fn phone_and_cards(&self, phone: &str) -> Result<(String, Vec<String>), String> {
        let phone = Phone::parse(phone).map_err(|e| e.message().to_owned())?;
        let st = self.shared.lock();
        let cards = st
            .index(phone.as_str())
            .and_then(|i| {
                st.customers[i]
                    .card
                    .as_ref()
                    .map(|k| vec![k.number.clone()])
            })
            .unwrap_or_default();
        Ok((phone.as_str().to_owned(), cards))
    }
}

/// Dispatches `POST /_admin/<action>` bodies (and `GET` listings) to the handle's methods.
pub(crate) async fn admin(
    emu: &PassquareEmulator,
    action: &str,
    body: &Map<String, Value>,
) -> Result<Value, Fail> {
    let bad = |m: String| Fail(axum::http::StatusCode::BAD_REQUEST, m);
    let required = |key: &str| text(body, key).ok_or_else(|| bad(format!("{key} is required")));
    match action {
        "install" => {
            let req: InstallRequest = serde_json::from_value(Value::Object(body.clone()))
                .map_err(|e| bad(format!("install: {e}")))?;
            emu.install(req).await.map_err(bad)
        }
        "uninstall" => {
            let phone = super::api::phone(body)?;
            let mut st = emu.shared.lock();
            let i = st
                .index(&phone)
                .ok_or_else(|| bad("no such customer".into()))?;
            if let Some(card) = st.customers[i].card.as_mut() {
                card.installed = false;
            }
            Ok(json!({"installed": false}))
        }
        "read_balance" => {
            let phone = required("phone")?;
            emu.read_balance_hook(&phone)
                .await
                .map(|h| json!(h))
                .map_err(bad)
        }
        "add_balance" => {
            let phone = required("phone")?;
            let sum = decimal(body, "sum")?.ok_or_else(|| bad("sum is required".into()))?;
            let tx = required("transactionId")?;
            let lifetime = body.get("lifetime").and_then(Value::as_u64);
            emu.add_balance_hook(&phone, sum, &tx, lifetime)
                .await
                .map(|h| json!(h))
                .map_err(bad)
        }
        "hook" => {
            let target: CrmHookTarget = serde_json::from_value(Value::Object(body.clone()))
                .map_err(|e| bad(format!("hook: {e}")))?;
            emu.set_crm_hook(Some(target));
            Ok(json!({"ok": true}))
        }
        "segments" => {
            let name = text(body, "name").unwrap_or_else(|| "Segment".into());
            let phones: Vec<String> = body
                .get("phones")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let uuid = emu.add_segment(&name, &phones).map_err(bad)?;
            Ok(json!({"uuid": uuid}))
        }
        "seed" => {
            let count = body.get("count").and_then(Value::as_u64).unwrap_or(0);
            let start = text(body, "start_phone").unwrap_or_else(|| "+420700000000".into());
            let installed_every = body
                .get("installed_every")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            emu.seed_customers(&start, count, installed_every)
                .map_err(bad)?;
            Ok(json!({"customers": emu.customer_count()}))
        }
        _ => Err(Fail(
            axum::http::StatusCode::NOT_FOUND,
            format!("unknown admin action `{action}`"),
        )),
    }
}

/// A segment for the config, kept here with the admin helpers that create them.
pub(crate) fn segment(uuid: String, name: &str, phones: Vec<String>) -> Segment {
    Segment {
        uuid,
        name: name.to_owned(),
        phones,
    }
}
