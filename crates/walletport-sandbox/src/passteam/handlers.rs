//! The HTTP side: one route `/oapi/v1/{method}`, envelopes, quota, auth, dispatch.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use serde_json::{Value, json};

use super::state::Fail;
use super::{DistributeEntry, LoggedRequest, PushEntry, Shared, form, lock};
use crate::common::{QuotaWindow, insert_retry_after, json_response};

type Answer = Result<Value, Fail>;

pub(crate) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/oapi/v1/{method}", any(handle))
        .with_state(shared)
}

/// Appends `entry` to the log the tests read (pushes, distributions) and answers `true`, as
/// Passteam does for an accepted send.
fn recorded<T>(log: &Mutex<Vec<T>>, entry: T) -> Answer {
    lock(log).push(entry);
    Ok(Value::Bool(true))
}

fn envelope(answer: Answer) -> Response {
    match answer {
        Ok(result) => json_response(
            StatusCode::OK,
            &json!({ "result": result, "message": "OK", "code": 200, "error": false }),
        ),
        Err(f) => json_response(
            StatusCode::from_u16(f.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &json!({ "result": null, "message": f.message, "code": f.code, "error": true }),
        ),
    }
}

async fn handle(
    State(s): State<Arc<Shared>>,
    Path(method): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let method = method.to_ascii_lowercase();
    let content_type = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or("").trim().to_owned())
        .unwrap_or_default();
    let bytes = match to_bytes(Body::new(body), 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return envelope(Err(Fail::new(413, "Request body too large."))),
    };
    let decoded = form::decode(&parts.headers, parts.uri.query(), bytes).await;
    lock(&s.requests).push(LoggedRequest {
        method: method.clone(),
        content_type,
        fields: decoded
            .as_ref()
            .map(|f| f.fields.clone())
            .unwrap_or_default(),
    });
    if let Err(w) = s.quota.admit() {
        return rate_limited(&s.config, w);
    }
    let f = match decoded {
        Ok(f) => f,
        Err(e) => return envelope(Err(Fail::new(400, e))),
    };
    if method != "getatoken" {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim();
        let known =
            s.config.tokens.iter().any(|t| t == token) || lock(&s.issued_tokens).contains(token);
        if token.is_empty() || !known {
            return envelope(Err(Fail::new(401, "Invalid token.")));
        }
    }
    envelope(dispatch(&s, &parts.method, &method, &f))
}

/// The answer past the plan: the documented "You can only make N requests per hour" (or per day)
/// in the envelope with `code` 429. The document names only those periods; for the shorter
/// windows of test plans (e.g. `10/s` in `cargo xtask chaos`) the message names the window's own
/// period, so the adapter does not mistake it for an hourly plan, and `Retry-After` says when
/// the window has room again.
fn rate_limited(config: &super::PassteamEmulatorConfig, w: QuotaWindow) -> Response {
    let secs = w.per.as_secs();
    let per = match secs {
        86_400.. => "day",
        3_600.. => "hour",
        60.. => "minute",
        _ => "second",
    };
    let message = format!("You can only make {} requests per {per}", w.limit);
    let status = StatusCode::from_u16(config.rate_limit_http_status)
        .unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let mut resp = json_response(
        status,
        &json!({ "result": null, "message": message, "code": 429, "error": true }),
    );
    if secs < 3_600 {
        insert_retry_after(&mut resp, &w);
    }
    resp
}

fn dispatch(s: &Shared, verb: &Method, method: &str, f: &form::Form) -> Answer {
    match (verb.as_str(), method) {
        ("POST", "getatoken") => getatoken(s, f),
        ("POST", "getlisttemplates") => Ok(Value::Array(
            lock(&s.account)
                .templates
                .keys()
                .map(|k| Value::String(k.clone()))
                .collect(),
        )),
        ("POST", "gettemplate") => {
            let a = lock(&s.account);
            let t = a.template(f.get("templateId"))?;
            Ok(a.template_json(t, &s.config.owner))
        }
        ("POST", "createcard") => {
            let card = {
                let mut a = lock(&s.account);
                let i = a.create(f.get("templateId"), &f.variables())?;
                a.card_json(i)
            };
            s.webhooks.emit("createCard", card.clone());
            Ok(card)
        }
        ("POST", "getcard") => getcard(s, f),
        ("POST", "updatecard") => {
            let system: BTreeMap<String, String> = ["voided", "expirationDate"]
                .iter()
                .filter_map(|k| f.get(k).map(|v| ((*k).to_owned(), v.to_owned())))
                .collect();
            let (changed, card) = {
                let mut a = lock(&s.account);
                let i = a.card_index(f.get("cardId"))?;
                let changed = a.update(i, &f.variables(), &system)?;
                (changed, a.card_json(i))
            };
            if changed {
                s.webhooks.emit("updateCard", card.clone());
            }
            Ok(json!({ "messages": [], "updated": changed, "card": card }))
        }
        ("POST", "deletecard") => {
            let removed = {
                let mut a = lock(&s.account);
                let id = f
                    .text("cardId")
                    .ok_or_else(|| Fail::new(400, "Parameter cardId is required."))?;
                a.cards.iter().position(|c| c.id == id).map(|i| {
                    let json = a.card_json(i);
                    a.cards.remove(i);
                    json
                })
            };
            let n = u8::from(removed.is_some());
            if let Some(card) = removed {
                s.webhooks.emit("deleteCard", card);
            }
            Ok(json!({ "n": n, "ok": 1, "err": null, "errmsg": null }))
        }
        ("POST", "getcardswithpagination") => paginate(s, f),
        ("POST", "checkvariablevalue") => {
            let a = lock(&s.account);
            let t = a.template(f.get("templateId"))?;
            let name = f
                .text("variable")
                .ok_or_else(|| Fail::new(400, "Parameter variable is required."))?;
            let name = name.trim_matches('%').to_owned();
            let value = f
                .get("value")
                .ok_or_else(|| Fail::new(400, "Parameter value is required."))?;
            let ids: Vec<String> = a
                .find_by_value(&t.id, &name, value)
                .into_iter()
                .map(|i| a.cards[i].id.clone())
                .collect();
            Ok(json!({ "unique": ids.is_empty(), "cardsIds": ids }))
        }
        ("POST", "distribute") => distribute(s, f),
        ("POST", "sendpush") => {
            let message = f
                .text("message")
                .ok_or_else(|| Fail::new(400, "Parameter message is required."))?;
            let recipients = {
                let a = lock(&s.account);
                let t = a.template(f.get("templateId"))?;
                a.cards
                    .iter()
                    .filter(|c| c.template == t.id && (c.installed_aw || c.installed_gpay))
                    .count()
            };
            let template_id = f.text("templateId").unwrap_or_default();
            recorded(
                &s.pushes,
                PushEntry {
                    template_id,
                    message,
                    recipients,
                },
            )
        }
        _ => super::handlers_commerce::dispatch(s, verb, method, f),
    }
}

fn getatoken(s: &Shared, f: &form::Form) -> Answer {
    if f.get("login") != Some(s.config.login.as_str())
        || f.get("password") != Some(s.config.password.as_str())
    {
        return Err(Fail::new(401, "Wrong login or password."));
    }
    let token = {
        let mut issued = lock(&s.issued_tokens);
        let t = format!("issued-{}-{}", s.config.login, issued.len() + 1);
        issued.insert(t.clone());
        t
    };
    Ok(Value::String(token))
}

fn getcard(s: &Shared, f: &form::Form) -> Answer {
    let a = lock(&s.account);
    let found: Vec<usize> = if let Some(id) = f.text("cardId") {
        a.cards
            .iter()
            .position(|c| c.id == id)
            .into_iter()
            .collect()
    } else if let Some(code) = f.text("cardCode") {
        a.cards
            .iter()
            .position(|c| c.code == code)
            .into_iter()
            .collect()
    } else {
        let t = a.template(f.get("templateId"))?;
        let vars = f.variables();
        let Some((name, value)) = vars.first() else {
            return Err(Fail::new(
                400,
                "Provide cardId, cardCode or templateId with values.",
            ));
        };
        a.find_by_value(&t.id, name, value)
    };
    match found.as_slice() {
        [] => Err(Fail::new(404, "Card not found.")),
        [i] => Ok(a.card_json(*i)),
        _ => Err(Fail::new(400, "More than one card found.")),
    }
}

fn number(f: &form::Form, name: &str) -> Result<Option<u64>, Fail> {
    match f.text(name) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| Fail::new(400, format!("Parameter {name} must be a number."))),
    }
}

fn paginate(s: &Shared, f: &form::Form) -> Answer {
    let a = lock(&s.account);
    let t = a.template(f.get("templateId"))?;
    let page = number(f, "page")?.ok_or_else(|| Fail::new(400, "Parameter page is required."))?;
    if page == 0 {
        return Err(Fail::new(400, "Parameter page starts from 1."));
    }
    let per_page = number(f, "perPage")?.unwrap_or(50).clamp(1, 50);
    let cards: Vec<usize> = (0..a.cards.len())
        .filter(|i| a.cards[*i].template == t.id)
        .collect();
    let count = cards.len() as u64;
    let page_count = count.div_ceil(per_page);
    let start = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let items: Vec<Value> = cards
        .iter()
        .skip(start)
        .take(per_page as usize)
        .map(|i| a.card_json(*i))
        .collect();
    Ok(json!({
        "pageCount": page_count,
        "nextPage": if page < page_count { json!(page + 1) } else { Value::Null },
        "previouslyPage": if page > 1 { json!(page - 1) } else { Value::Null },
        "cardsCount": count,
        "cards": items,
    }))
}

fn distribute(s: &Shared, f: &form::Form) -> Answer {
    let channel = f.text("type").unwrap_or_default().to_ascii_lowercase();
    let to = {
        let a = lock(&s.account);
        let i = a.card_index(f.get("cardId"))?;
        let card = a.card_json(i);
        let field = match channel.as_str() {
            "sms" => "phoneNumber",
            "email" => "email",
            _ => return Err(Fail::new(400, "Parameter type must be sms or email.")),
        };
        let to = card[field].as_str().unwrap_or("").to_owned();
        if to.is_empty() {
            return Err(Fail::new(400, format!("The card has no {field}.")));
        }
        to
    };
    let card_id = f.text("cardId").unwrap_or_default();
    recorded(
        &s.distributed,
        DistributeEntry {
            card_id,
            channel,
            to,
        },
    )
}
