//! The Skycore actions, pure over the emulator state: body in, success fields or a rejection out.

use serde_json::{Map, Value, json};

use super::checks::{self, E_DUPLICATE, E_LINK, E_PASS, E_TEMPLATE, Reject, text};
use super::state::{
    Layout, LinkRecord, PassRecord, SkycoreNotification, State, TemplateRecord, merge,
};

/// What the emulator needs besides the state: where its install links point.
#[derive(Debug, Clone)]
pub(super) struct Env {
    pub(super) public_url: String,
    pub(super) alternate_keys: bool,
}

type Outcome = Result<Map<String, Value>, Reject>;

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn field_text(body: &Map<String, Value>, key: &str) -> Option<String> {
    body.get(key).and_then(text).map(|s| s.trim().to_owned())
}

fn sub_object(body: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, Reject> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(Reject::field(key)),
    }
}

fn pass_id(body: &Map<String, Value>) -> Result<String, Reject> {
    match field_text(body, "pass-id") {
        Some(id) if !id.is_empty() => Ok(id),
        _ => Err(Reject::new(E_PASS, "The pass-id value is invalid.")),
    }
}

fn template_of<'a>(
    state: &'a State,
    body: &Map<String, Value>,
) -> Result<(String, &'a TemplateRecord), Reject> {
    let id = field_text(body, "pass-template-id").unwrap_or_default();
    match state.templates.get(&id) {
        Some(t) => Ok((id, t)),
        None => Err(Reject::new(
            E_TEMPLATE,
            "The pass-template-id value is invalid.",
        )),
    }
}

/// Runs one action (already lower-cased) against the state.
pub(super) fn dispatch(
    state: &mut State,
    env: &Env,
    action: &str,
    body: &Map<String, Value>,
) -> Outcome {
    match action {
        "generatepass" => generate_pass(state, env, body),
        "updatepassdata" => update_pass_data(state, body),
        "getpassdata" => get_pass_data(state, env, body),
        "getpasstemplate" => get_pass_template(state, body),
        "createpasstemplate" => create_pass_template(state, body),
        "updatepasstemplate" => update_pass_template(state, body),
        "createpassissuancelink" => create_link(state, env, body),
        "updatepassissuancelink" => update_link(state, env, body),
        _ => Err(Reject::field("action")),
    }
}

fn generate_pass(state: &mut State, env: &Env, body: &Map<String, Value>) -> Outcome {
    let (template_id, template) = template_of(state, body)?;
    let layout = template.layout;
    let id = pass_id(body)?;
    let pass_data = sub_object(body, "pass-data")?;
    let meta_data = sub_object(body, "pass-meta-data")?;
    checks::pass_data(&pass_data, layout)?;
    checks::meta_data(&meta_data)?;
    if state.passes.contains_key(&id) {
        return Err(Reject::new(
            E_DUPLICATE,
            "The pass-id value already exists.",
        ));
    }
    let install_url = format!(
        "{}/wallet/gc/{}?iid={}",
        env.public_url.trim_end_matches('/'),
        state.next_hex(32),
        state.next_hex(16)
    );
    let tracking_id = state.next_hex(10);
    let mut stored = pass_data;
    stored.remove("pass-update-notification");
    stored
        .entry("pass-status")
        .or_insert_with(|| json!("active"));
    state.passes.insert(
        id.clone(),
        PassRecord {
            template_id,
            pass_data: stored,
            meta_data,
            reference_data: body.get("reference-data").cloned().unwrap_or(Value::Null),
            install_url: install_url.clone(),
            tracking_id: tracking_id.clone(),
        },
    );
    Ok(object(json!({
        "pass-id": id,
        "pass-install-url": install_url,
        "tracking-id": tracking_id,
    })))
}

fn update_pass_data(state: &mut State, body: &Map<String, Value>) -> Outcome {
    let id = pass_id(body)?;
    // Mandatory, as the document's parameter table says, and it must be the pass's own.
    template_of(state, body)?;
    let Some(pass) = state.passes.get(&id) else {
        return Err(Reject::new(E_PASS, "The pass-id value is invalid."));
    };
    if let Some(t) = field_text(body, "pass-template-id")
        && t != pass.template_id
    {
        return Err(Reject::new(E_PASS, "The pass-id value is invalid."));
    }
    let layout = state
        .templates
        .get(&pass.template_id)
        .map(|t| t.layout)
        .unwrap_or_default();
    let mut data = sub_object(body, "pass-data")?;
    let meta = sub_object(body, "pass-meta-data")?;
    checks::pass_data(&data, layout)?;
    checks::meta_data(&meta)?;
    if let Some(p) = body.get("priority")
        && checks::flag(p).is_none()
    {
        return Err(Reject::field("priority"));
    }
    let new_id = field_text(body, "new-pass-id").filter(|n| !n.is_empty() && *n != id);
    if let Some(n) = &new_id
        && state.passes.contains_key(n)
    {
        return Err(Reject::new(
            E_DUPLICATE,
            "The new-pass-id value already exists.",
        ));
    }
    let notification = data
        .remove("pass-update-notification")
        .or_else(|| body.get("pass-update-notification").cloned())
        .and_then(|v| text(&v))
        .filter(|m| !m.trim().is_empty());
    let Some(mut pass) = state.passes.remove(&id) else {
        return Err(Reject::new(E_PASS, "The pass-id value is invalid."));
    };
    if let Some(status) = data.get("pass-status").and_then(text) {
        let status = status.to_ascii_lowercase();
        data.insert("pass-status".into(), json!(status));
        data.insert(
            "info-module".into(),
            json!(format!("This pass is {status}.")),
        );
    }
    merge(&mut pass.pass_data, &data);
    merge(&mut pass.meta_data, &meta);
    let final_id = new_id.unwrap_or(id);
    let tracking = pass.tracking_id.clone();
    state.passes.insert(final_id.clone(), pass);
    if let Some(message) = notification {
        state.notifications.push(SkycoreNotification {
            pass_id: final_id.clone(),
            message,
        });
    }
    Ok(object(
        json!({"pass-id": final_id, "tracking-id": tracking}),
    ))
}

/// The template's values in the flat shape `getpasstemplate` and `getpassdata` answer with.
fn flat_template(record: &TemplateRecord, alternate: bool) -> Map<String, Value> {
    let b = &record.body;
    let sec = |k: &str| {
        b.get(k)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (appearance, universal, apple, gpay, barcode, expiration) = (
        sec("appearance"),
        sec("universal-fields"),
        sec("apple-wallet-fields"),
        sec("gpay-fields"),
        sec("barcode-fields"),
        sec("expiration-fields"),
    );
    let mut flat = Map::new();
    let mut put = |k: &str, v: Option<&Value>| {
        if let Some(v) = v {
            flat.insert(k.to_owned(), v.clone());
        }
    };
    let (logo, issuer, strip, link1, link2, home) = if alternate {
        (
            "logo-url",
            "pass-issuer",
            "strip-url",
            "link1-URI",
            "link2-URI",
            "home-page-URI",
        )
    } else {
        (
            "program-logo",
            "card-issuer",
            "strip-image",
            "link1",
            "link2",
            "home-page-uri",
        )
    };
    put(logo, appearance.get("program-logo"));
    put(issuer, appearance.get("card-issuer"));
    put(strip, appearance.get("strip-image"));
    put("additional-image", gpay.get("additional-image"));
    put("barcode-value", barcode.get("barcode-value"));
    put(
        "expiration-timestamp",
        Some(expiration.get("expiry-date").unwrap_or(&Value::Null)),
    );
    put("expiration-timezone", expiration.get("expiry-timezone"));
    for (k, v) in &universal {
        let key = match k.as_str() {
            "link1" => link1,
            "link2" => link2,
            "home-page-uri" => home,
            other => other,
        };
        flat.insert(key.to_owned(), v.clone());
    }
    if let Some(beacons) = apple.get("ibeacons") {
        flat.insert("ibeacons".into(), keyed(beacons, "ibeacon"));
    }
    if let Some(locations) = b.get("relevant-locations") {
        flat.insert("relevant-locations".into(), keyed(locations, "relevant"));
    }
    flat
}

/// Gives every list entry its `key` (`relevant-1`, `ibeacon-2`, ...) as Skycore answers them.
fn keyed(list: &Value, prefix: &str) -> Value {
    match list {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let mut item = item.clone();
                    if let Value::Object(m) = &mut item {
                        m.entry("key")
                            .or_insert_with(|| json!(format!("{prefix}-{}", i + 1)));
                    }
                    item
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn get_pass_data(state: &mut State, env: &Env, body: &Map<String, Value>) -> Outcome {
    let id = pass_id(body)?;
    // Mandatory, as the document's parameter table says, and it must be the pass's own.
    let (template_id, _) = template_of(state, body)?;
    let pass = state
        .passes
        .get(&id)
        .filter(|p| p.template_id == template_id)
        .ok_or_else(|| Reject::new(E_PASS, "The pass-id value is invalid."))?;
    let mut data = state
        .templates
        .get(&pass.template_id)
        .map(|t| flat_template(t, env.alternate_keys))
        .unwrap_or_default();
    data.retain(|k, _| !k.ends_with("-label") && !k.starts_with("dynamic-pass-field-"));
    for (k, v) in &pass.pass_data {
        let key = match (k.as_str(), env.alternate_keys) {
            ("strip-image", true) => "strip-url",
            (other, _) => other,
        };
        data.insert(key.to_owned(), v.clone());
    }
    Ok(object(json!({
        "pass-id": id,
        "pass-template-id": pass.template_id,
        "pass-data": data,
    })))
}

fn get_pass_template(state: &mut State, body: &Map<String, Value>) -> Outcome {
    let (id, template) = template_of(state, body)?;
    let mut flat = Map::new();
    flat.insert(
        "pass-name".into(),
        template
            .body
            .get("pass-template-name")
            .cloned()
            .unwrap_or(Value::Null),
    );
    flat.insert("pass-type".into(), json!("Loyalty Card"));
    let appearance = template.body.get("appearance").and_then(Value::as_object);
    if let Some(org) = appearance.and_then(|a| a.get("card-issuer")) {
        flat.insert("organization".into(), org.clone());
    }
    if let Some(d) = template
        .body
        .get("apple-wallet-fields")
        .and_then(|a| a.get("description"))
    {
        flat.insert("description".into(), d.clone());
    }
    flat.extend(flat_template(template, true));
    Ok(object(
        json!({"pass-template-id": id, "pass-template": flat}),
    ))
}

fn template_reply(id: &str, body: &Map<String, Value>) -> Map<String, Value> {
    object(json!({
        "pass-template-type": body.get("pass-template-type").cloned().unwrap_or(json!("loyalty")),
        "pass-template-name": body.get("pass-template-name").cloned().unwrap_or(Value::Null),
        "pass-template-id": id,
    }))
}

fn template_body(body: &Map<String, Value>) -> Map<String, Value> {
    let mut b = body.clone();
    for k in ["action", "pass-template-id", "pass-update-notification"] {
        b.remove(k);
    }
    b
}

fn create_pass_template(state: &mut State, body: &Map<String, Value>) -> Outcome {
    if !field_text(body, "pass-template-type").is_some_and(|t| t.eq_ignore_ascii_case("loyalty")) {
        return Err(Reject::field("pass-template-type"));
    }
    let layout = field_text(body, "pass-template-subtype")
        .and_then(|s| Layout::from_subtype(&s))
        .ok_or_else(|| Reject::field("pass-template-subtype"))?;
    checks::template(body, layout, true)?;
    let id = state.next_hex(32);
    let stored = template_body(body);
    let reply = template_reply(&id, &stored);
    state.templates.insert(
        id,
        TemplateRecord {
            layout,
            body: stored,
        },
    );
    Ok(reply)
}

fn update_pass_template(state: &mut State, body: &Map<String, Value>) -> Outcome {
    let (id, template) = template_of(state, body)?;
    let layout = template.layout;
    if let Some(sub) = field_text(body, "pass-template-subtype")
        && Layout::from_subtype(&sub) != Some(layout)
    {
        return Err(Reject::field("pass-template-subtype"));
    }
    checks::template(body, layout, false)?;
    let mut merged = template.body.clone();
    merge(&mut merged, &template_body(body));
    checks::template(&merged, layout, true)?;
    let reply = template_reply(&id, &merged);
    state.templates.insert(
        id.clone(),
        TemplateRecord {
            layout,
            body: merged,
        },
    );
    if let Some(message) = field_text(body, "pass-update-notification").filter(|m| !m.is_empty()) {
        let installed: Vec<String> = state
            .passes
            .iter()
            .filter(|(_, p)| p.template_id == id)
            .map(|(k, _)| k.clone())
            .collect();
        for pass_id in installed {
            state.notifications.push(SkycoreNotification {
                pass_id,
                message: message.clone(),
            });
        }
    }
    Ok(reply)
}

fn preview_url(env: &Env, hash: &str, body: &Map<String, Value>) -> String {
    let vars = body
        .get("pass-variables")
        .and_then(Value::as_object)
        .map(|vars| {
            vars.iter()
                .map(|(name, props)| {
                    let encrypted =
                        props.get("value-encryption").and_then(checks::flag) == Some(true);
                    if encrypted {
                        format!("{name}=Encrypted({{ Parameter Value }})")
                    } else {
                        format!("{name}={{ Parameter Value }}")
                    }
                })
                .collect::<Vec<_>>()
                .join("&")
        })
        .unwrap_or_default();
    format!(
        "{}/wallet/gc/{hash}?{vars}",
        env.public_url.trim_end_matches('/')
    )
}

fn create_link(state: &mut State, env: &Env, body: &Map<String, Value>) -> Outcome {
    let (_, template) = template_of(state, body)?;
    checks::issuance_link(body, template.layout)?;
    let id = state.next_hex(32);
    let hash = state.next_hex(32);
    let mut stored = body.clone();
    stored.remove("action");
    let preview = preview_url(env, &hash, &stored);
    state.links.insert(
        id.clone(),
        LinkRecord {
            body: stored,
            preview_url: preview.clone(),
        },
    );
    Ok(object(
        json!({"pass-issuance-link-template-id": id, "preview-url": preview}),
    ))
}

fn update_link(state: &mut State, env: &Env, body: &Map<String, Value>) -> Outcome {
    let id = field_text(body, "issuance-link-id").unwrap_or_default();
    let Some(link) = state.links.get(&id) else {
        return Err(Reject::new(
            E_LINK,
            "The issuance-link-id value is invalid.",
        ));
    };
    let mut merged = link.body.clone();
    let mut patch = body.clone();
    patch.remove("action");
    if patch.contains_key("pass-variables") {
        merged.remove("pass-variables");
    }
    merge(&mut merged, &patch);
    let (_, template) = template_of(state, &merged)?;
    checks::issuance_link(&merged, template.layout)?;
    let hash = link
        .preview_url
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .unwrap_or_default()
        .to_owned();
    let preview = preview_url(env, &hash, &merged);
    state.links.insert(
        id.clone(),
        LinkRecord {
            body: merged,
            preview_url: preview.clone(),
        },
    );
    Ok(object(
        json!({"pass-issuance-link-template-id": id, "preview-url": preview}),
    ))
}
