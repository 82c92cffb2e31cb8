//! The validations Skycore documents, answered with its error codes.
//!
//! Written from the vendor document independently of the adapter, so the adapter's own client-side
//! checks are tested against a second reading of the same text.

use serde_json::{Map, Value};

use super::state::Layout;

/// E802: the pass-template-id is unknown.
pub(super) const E_TEMPLATE: &str = "E802";
/// E808: the pass-id is unknown.
pub(super) const E_PASS: &str = "E808";
/// E922: a field value is invalid (or a required one is missing).
pub(super) const E_FIELD: &str = "E922";
/// E1543: the pass variables of an issuance link are invalid or empty.
pub(super) const E_VARIABLES: &str = "E1543";
/// The pass-id exists already (the document gives no code; see `docs/providers/skycore.md`).
pub(super) const E_DUPLICATE: &str = "E807";
/// The issuance-link-id is unknown (the document gives no code).
pub(super) const E_LINK: &str = "E1544";
/// The API key is missing or wrong (the document gives no code).
pub(super) const E_AUTH: &str = "E401";

/// A request Skycore refuses: its error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reject {
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl Reject {
    pub(super) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// E922 naming the field, in Skycore's words.
    pub(super) fn field(field: &str) -> Self {
        Self::new(E_FIELD, format!("The {field} value is invalid."))
    }
}

/// The scalar as text: strings as they are, numbers and booleans printed (Skycore accepts both).
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A boolean sent as `true` or as `"true"`/`"TRUE"`.
pub(super) fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn get_text(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(text)
}

fn is_colour(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

fn is_time_zone(s: &str) -> bool {
    s.parse::<chrono_tz::Tz>().is_ok()
}

fn is_iso_timestamp(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s.trim()).is_ok()
}

/// `mm/dd/yyyy h:mm AM/PM`, the template expiry format.
fn is_template_expiry(s: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(s.trim(), "%m/%d/%Y %I:%M %p").is_ok()
}

fn check_list_len(map: &Map<String, Value>, key: &str) -> Result<(), Reject> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) if items.len() <= 10 && items.iter().all(Value::is_object) => {
            Ok(())
        }
        Some(_) => Err(Reject::field(key)),
    }
}

/// The pass-data of `generatepass` / `updatepassdata` against the template's layout.
pub(super) fn pass_data(data: &Map<String, Value>, layout: Layout) -> Result<(), Reject> {
    for (key, value) in data {
        if key.starts_with("custom-field-") {
            if !matches!(
                key.as_str(),
                "custom-field-1" | "custom-field-2" | "custom-field-3"
            ) {
                return Err(Reject::field(key));
            }
            if layout != Layout::Two {
                return Err(Reject::new(
                    E_FIELD,
                    format!("The {key} value is invalid: custom fields need a layout 2 template."),
                ));
            }
        }
        if let Some(n) = key.strip_prefix("message") {
            let ok = n.parse::<u8>().is_ok_and(|n| (4..=10).contains(&n));
            if !ok {
                return Err(Reject::field(key));
            }
        }
        if !matches!(key.as_str(), "relevant-locations" | "ibeacons")
            && !matches!(value, Value::Null)
            && text(value).is_none()
        {
            return Err(Reject::field(key));
        }
    }
    check_list_len(data, "relevant-locations")?;
    check_list_len(data, "ibeacons")?;
    if let Some(ts) = get_text(data, "expiration-timestamp")
        && !is_iso_timestamp(&ts)
    {
        return Err(Reject::field("expiration-timestamp"));
    }
    if let Some(tz) = get_text(data, "expiration-timezone")
        && !is_time_zone(&tz)
    {
        return Err(Reject::field("expiration-timezone"));
    }
    if let Some(status) = get_text(data, "pass-status") {
        let known = ["redeemed", "expired", "voided", "active"];
        if !known.iter().any(|k| k.eq_ignore_ascii_case(&status)) {
            return Err(Reject::field("pass-status"));
        }
    }
    Ok(())
}

/// The pass-meta-data: a valid-looking e-mail and a numeric phone.
pub(super) fn meta_data(meta: &Map<String, Value>) -> Result<(), Reject> {
    if let Some(email) = get_text(meta, "user-email")
        && (!email.contains('@') || email.contains(char::is_whitespace))
    {
        return Err(Reject::field("user-email"));
    }
    if let Some(phone) = get_text(meta, "user-phone")
        && (phone.is_empty() || !phone.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(Reject::field("user-phone"));
    }
    Ok(())
}

const DYNAMIC_FIELDS: [&str; 9] = [
    "account-name",
    "account-id",
    "loyalty-points",
    "secondary-loyalty-points",
    "expiration-timestamp",
    "current-timestamp",
    "custom-field-1",
    "custom-field-2",
    "custom-field-3",
];

const LINK_TYPES: [&str; 5] = ["email", "geo-location", "map-link", "phone", "web-link"];
const BARCODE_TYPES: [&str; 4] = ["QRCODE", "AZTEC", "PDF417", "CODE128"];

fn section<'a>(
    body: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, Reject> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(Reject::field(key)),
    }
}

/// A `createPassTemplate` / `updatePassTemplate` body; `create` also requires the mandatory fields.
pub(super) fn template(
    body: &Map<String, Value>,
    layout: Layout,
    create: bool,
) -> Result<(), Reject> {
    let appearance = section(body, "appearance")?;
    let universal = section(body, "universal-fields")?;
    let apple = section(body, "apple-wallet-fields")?;
    let expiration = section(body, "expiration-fields")?;
    let barcode = section(body, "barcode-fields")?;
    if create {
        let nonempty = |m: Option<&Map<String, Value>>, key: &str| {
            m.and_then(|m| get_text(m, key))
                .is_some_and(|v| !v.trim().is_empty())
        };
        let required: [(Option<&Map<String, Value>>, &str); 8] = [
            (Some(body), "pass-template-name"),
            (appearance, "program-logo"),
            (appearance, "program-logo-gpay"),
            (appearance, "card-issuer"),
            (appearance, "background-color"),
            (universal, "program-name"),
            (barcode, "barcode-type"),
            (apple, "description"),
        ];
        for (m, key) in required {
            if !nonempty(m, key) {
                return Err(Reject::new(
                    E_FIELD,
                    format!("The {key} value is required."),
                ));
            }
        }
        // text-color is mandatory but the documented example sends it empty (default colour).
        if apple.and_then(|a| a.get("text-color")).is_none() {
            return Err(Reject::new(E_FIELD, "The text-color value is required."));
        }
    }
    for (m, key) in [(appearance, "background-color"), (apple, "text-color")] {
        if let Some(c) = m.and_then(|m| get_text(m, key))
            && !c.is_empty()
            && !is_colour(&c)
        {
            return Err(Reject::field(key));
        }
    }
    if let Some(u) = universal {
        for key in ["link1-type", "link2-type"] {
            if let Some(t) = get_text(u, key)
                && !LINK_TYPES.contains(&t.as_str())
            {
                return Err(Reject::field(key));
            }
        }
        for key in u.keys() {
            let custom = key.starts_with("custom-field-");
            let dynamic = key.starts_with("dynamic-pass-field-")
                || key.starts_with("expiration-timestamp-")
                || key.starts_with("current-timestamp-");
            if (custom || dynamic) && layout != Layout::Two {
                return Err(Reject::new(
                    E_FIELD,
                    format!("The {key} value is invalid: it needs a layout 2 template."),
                ));
            }
            if let Some(n) = key.strip_prefix("dynamic-pass-field-") {
                if !matches!(n, "1" | "2" | "3" | "4") {
                    return Err(Reject::field(key));
                }
                if let Some(v) = get_text(u, key)
                    && !v.is_empty()
                    && !DYNAMIC_FIELDS.contains(&v.as_str())
                {
                    return Err(Reject::field(key));
                }
            }
        }
        if let Some(tz) = get_text(u, "current-timestamp-timezone")
            && !is_time_zone(&tz)
        {
            return Err(Reject::field("current-timestamp-timezone"));
        }
    }
    if let Some(a) = apple {
        check_list_len(a, "ibeacons")?;
    }
    check_list_len(body, "relevant-locations")?;
    if let Some(b) = barcode {
        if let Some(t) = get_text(b, "barcode-type")
            && !BARCODE_TYPES.iter().any(|k| k.eq_ignore_ascii_case(&t))
        {
            return Err(Reject::field("barcode-type"));
        }
        if let Some(len) = get_text(b, "autogenerate-barcode-value-length")
            && !len.parse::<u32>().is_ok_and(|n| (10..=100).contains(&n))
        {
            return Err(Reject::field("autogenerate-barcode-value-length"));
        }
    }
    if let Some(e) = expiration {
        if let Some(d) = get_text(e, "expiry-date")
            && !is_template_expiry(&d)
        {
            return Err(Reject::field("expiry-date"));
        }
        for key in ["expiry-timezone", "auto-expire-timezone"] {
            if let Some(tz) = get_text(e, key)
                && !is_time_zone(&tz)
            {
                return Err(Reject::field(key));
            }
        }
        match get_text(e, "expiration-setting").as_deref() {
            None | Some("default") => {}
            Some("auto") => {
                let has = |k: &str| get_text(e, k).is_some_and(|v| v.parse::<u32>().is_ok());
                if !(has("auto-expire-number-days") || has("auto-expire-number-hours")) {
                    return Err(Reject::new(
                        E_FIELD,
                        "The auto-expire-number-days value is required for auto expiration.",
                    ));
                }
                if get_text(e, "auto-expire-timezone").is_none() {
                    return Err(Reject::new(
                        E_FIELD,
                        "The auto-expire-timezone value is required for auto expiration.",
                    ));
                }
            }
            Some(_) => return Err(Reject::field("expiration-setting")),
        }
    }
    Ok(())
}

/// A `createPassIssuanceLink` / `updatePassIssuanceLink` body (without the template check).
pub(super) fn issuance_link(body: &Map<String, Value>, layout: Layout) -> Result<(), Reject> {
    let name = get_text(body, "link-name").or_else(|| get_text(body, "issuance-link-name"));
    if name.is_none_or(|n| n.trim().is_empty()) {
        return Err(Reject::new(E_FIELD, "The link-name value is required."));
    }
    if let Some(ts) = get_text(body, "link-expiration-timestamp") {
        if !is_iso_timestamp(&ts) {
            return Err(Reject::field("link-expiration-timestamp"));
        }
        match get_text(body, "link-expiration-timezone") {
            Some(tz) if is_time_zone(&tz) => {}
            _ => return Err(Reject::field("link-expiration-timezone")),
        }
    }
    if let Some(limit) = get_text(body, "link-generation-limit")
        && limit.parse::<u64>().is_err()
    {
        return Err(Reject::field("link-generation-limit"));
    }
    if let Some(status) = get_text(body, "link-status")
        && !["active", "inactive"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&status))
    {
        return Err(Reject::field("link-status"));
    }
    if let Some(v) = body.get("update-pass-data")
        && flag(v).is_none()
    {
        return Err(Reject::field("update-pass-data"));
    }
    if let Some(enc) = section(body, "encryption-settings")? {
        let name = get_text(enc, "encryption-name").unwrap_or_default();
        let normal = name.to_ascii_uppercase().replace('_', "-");
        if normal != "AES-CBC" && normal != "AES-CBC-256" {
            return Err(Reject::field("encryption-name"));
        }
        let alnum =
            |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_alphanumeric());
        if !get_text(enc, "secret-key").is_some_and(|k| alnum(&k, 32)) {
            return Err(Reject::field("secret-key"));
        }
        if !get_text(enc, "iv").is_some_and(|k| alnum(&k, 16)) {
            return Err(Reject::field("iv"));
        }
    }
    if let Some(p) = section(body, "link-protection")? {
        let algo = get_text(p, "checksum").or_else(|| get_text(p, "checksum-algorithm"));
        if let Some(a) = algo {
            if !["CRC32", "SHA256", "SHA384", "SHA512"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(&a))
            {
                return Err(Reject::field("checksum"));
            }
            match get_text(p, "checksum-applied") {
                Some(s)
                    if ["query-string", "full-link"]
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(&s)) => {}
                _ => return Err(Reject::field("checksum-applied")),
            }
        }
    }
    let bad_vars = || {
        Reject::new(
            E_VARIABLES,
            "Either pass variables provided are invalid or empty",
        )
    };
    let vars = match body.get("pass-variables") {
        Some(Value::Object(v)) if !v.is_empty() => v,
        _ => return Err(bad_vars()),
    };
    for (name, props) in vars {
        let Value::Object(props) = props else {
            return Err(bad_vars());
        };
        let valid_name =
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let valid_props = props.iter().all(|(k, v)| {
            matches!(k.as_str(), "is-required" | "value-encryption") && flag(v).is_some()
        });
        if !valid_name || !valid_props {
            return Err(bad_vars());
        }
        if name.starts_with("custom-field-") && layout != Layout::Two {
            return Err(bad_vars());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn pass_data_rules() {
        let ok = obj(
            json!({"custom-field-1": "x", "message4": "m", "loyalty-points": 5,
            "expiration-timestamp": "2019-02-01T10:46:46+00:00", "expiration-timezone": "Australia/Sydney"}),
        );
        assert!(pass_data(&ok, Layout::Two).is_ok());
        assert_eq!(pass_data(&ok, Layout::One).unwrap_err().code, E_FIELD);
        for bad in [
            json!({"message3": "m"}),
            json!({"message11": "m"}),
            json!({"expiration-timezone": "Mars/Olympus"}),
            json!({"expiration-timestamp": "1-2-2019 4.50pm"}),
            json!({"pass-status": "lost"}),
            json!({"relevant-locations": vec![json!({}); 11]}),
        ] {
            assert!(pass_data(&obj(bad.clone()), Layout::Two).is_err(), "{bad}");
        }
        assert!(pass_data(&obj(json!({"pass-status": "VOIDED"})), Layout::One).is_ok());
    }

    #[test]
    fn template_rules() {
        let good = obj(json!({
            "pass-template-name": "n",
            "appearance": {"program-logo": "a", "program-logo-gpay": "b", "card-issuer": "c", "background-color": "#030000"},
            "universal-fields": {"program-name": "p", "link1-type": "email"},
            "apple-wallet-fields": {"text-color": "", "description": "d"},
            "barcode-fields": {"barcode-type": "CODE128", "autogenerate-barcode-value-length": "10"},
            "expiration-fields": {"expiry-date": "12/30/2020 6:00 PM", "expiry-timezone": "Asia/Kolkata"}
        }));
        assert!(template(&good, Layout::One, true).is_ok());
        let mut bad = good.clone();
        bad.insert(
            "universal-fields".into(),
            json!({"program-name": "p", "dynamic-pass-field-1": "custom-field-1"}),
        );
        assert!(template(&bad, Layout::One, true).is_err());
        assert!(template(&bad, Layout::Two, true).is_ok());
        let mut bad = good.clone();
        bad.insert("barcode-fields".into(), json!({"barcode-type": "EAN13"}));
        assert_eq!(
            template(&bad, Layout::One, true).unwrap_err().message,
            "The barcode-type value is invalid."
        );
        let mut bad = good.clone();
        bad.insert(
            "expiration-fields".into(),
            json!({"expiration-setting": "auto", "auto-expire-number-days": "3"}),
        );
        assert!(template(&bad, Layout::One, true).is_err());
        assert!(template(&obj(json!({})), Layout::One, false).is_ok());
        assert!(template(&obj(json!({})), Layout::One, true).is_err());
    }

    #[test]
    fn link_rules() {
        let good = obj(json!({
            "link-name": "L", "link-status": "active", "update-pass-data": "true",
            "encryption-settings": {"encryption-name": "aes-cbc", "secret-key": "dNJWdAIchrX7OQflNEk1quq3CvjngmXj", "iv": "wbJWPb9KLbxo6xpk"},
            "link-protection": {"checksum-algorithm": "crc32", "checksum-applied": "query-string"},
            "pass-variables": {"pass-id": {"is-required": true, "value-encryption": false}}
        }));
        assert!(issuance_link(&good, Layout::One).is_ok());
        let mut bad = good.clone();
        bad.insert("pass-variables".into(), json!({}));
        assert_eq!(
            issuance_link(&bad, Layout::One).unwrap_err().code,
            E_VARIABLES
        );
        let mut bad = good.clone();
        bad.insert(
            "encryption-settings".into(),
            json!({"encryption-name": "aes-cbc", "secret-key": "short", "iv": "wbJWPb9KLbxo6xpk"}),
        );
        assert!(issuance_link(&bad, Layout::One).is_err());
    }
}
