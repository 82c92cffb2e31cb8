//! The checks Skycore's document specifies, run before anything is sent: a bad value becomes an
//! [`ErrorKind::InvalidInput`](walletport_core::ErrorKind::InvalidInput) naming the field, and no
//! request leaves.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use walletport_core::{Error, Result};

use crate::config::Layout;
use crate::encode::Node;
use crate::wire::{PassData, text};

/// An `InvalidInput` error naming `field`.
pub fn invalid(field: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("`{field}` {why}"))
}

/// `#RRGGBB`.
pub fn colour(field: &str, value: &str) -> Result<()> {
    let ok = value.len() == 7
        && value.starts_with('#')
        && value[1..].chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("must be a #RRGGBB colour, got `{value}`"),
        ))
    }
}

/// An IANA time-zone name (`America/New_York`).
pub fn time_zone(field: &str, value: &str) -> Result<()> {
    value.parse::<chrono_tz::Tz>().map(drop).map_err(|_| {
        invalid(
            field,
            format!("must be an IANA time zone such as America/New_York, got `{value}`"),
        )
    })
}

/// The template expiry format `mm/dd/yyyy hh:mm AM/PM`.
pub fn template_expiry(field: &str, value: &str) -> Result<()> {
    chrono::NaiveDateTime::parse_from_str(value.trim(), "%m/%d/%Y %I:%M %p")
        .map(drop)
        .map_err(|_| {
            invalid(
                field,
                format!("must be `mm/dd/yyyy hh:mm AM/PM`, got `{value}`"),
            )
        })
}

/// An ISO 8601 timestamp with an offset.
pub fn iso_timestamp(field: &str, value: &str) -> Result<()> {
    crate::wire::parse_timestamp(value)
        .map(drop)
        .ok_or_else(|| {
            invalid(
                field,
                format!("must be an ISO 8601 UTC timestamp, got `{value}`"),
            )
        })
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("must be one of {}, got `{value}`", allowed.join(", ")),
        ))
    }
}

fn coordinate(field: &str, value: &str, max: f64) -> Result<()> {
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= max => Ok(()),
        _ => Err(invalid(
            field,
            format!("must be decimal degrees within ±{max}, got `{value}`"),
        )),
    }
}

fn no_control(field: &str, value: &str) -> Result<()> {
    if value.chars().any(|c| c.is_control() && c != '\n') {
        Err(invalid(field, "contains control characters"))
    } else {
        Ok(())
    }
}

/// The pass-data of `generatepass` / `updatepassdata`, against the template's layout when known.
pub fn pass_data(data: &PassData, layout: Option<Layout>) -> Result<()> {
    if layout == Some(Layout::One)
        && let Some(i) = data.custom_fields.iter().position(Option::is_some)
    {
        return Err(invalid(
            &format!("custom-field-{}", i + 1),
            "is only available on layout 2 (loyalty-card-type2) templates",
        ));
    }
    if let Some(n) = data.messages.keys().find(|n| !(4..=10).contains(*n)) {
        return Err(invalid(
            &format!("message{n}"),
            "is not a pass field: only message4 … message10 are",
        ));
    }
    if data.relevant_locations.len() > 10 {
        return Err(invalid("relevant-locations", "allows at most 10 locations"));
    }
    if data.ibeacons.len() > 10 {
        return Err(invalid("ibeacons", "allows at most 10 iBeacons"));
    }
    for l in &data.relevant_locations {
        coordinate("latitude", &l.latitude, 90.0)?;
        coordinate("longitude", &l.longitude, 180.0)?;
    }
    if let Some(b) = data
        .ibeacons
        .iter()
        .find(|b| b.proximity_uuid.trim().is_empty())
    {
        return Err(invalid(
            "proximity-uuid",
            format!("is empty in {:?}", b.key),
        ));
    }
    if let Some(tz) = &data.expiration_timezone {
        time_zone("expiration-timezone", tz)?;
    }
    for (field, value) in [
        ("barcode-value", &data.barcode_value),
        ("loyalty-points", &data.loyalty_points),
        ("secondary-loyalty-points", &data.secondary_loyalty_points),
        ("account-name", &data.account_name),
        ("account-id", &data.account_id),
        ("pass-update-notification", &data.update_notification),
    ] {
        if let Some(v) = value {
            no_control(field, v)?;
        }
    }
    Ok(())
}

/// `user-email` and `user-phone` of `pass-meta-data`.
pub fn meta_data(email: Option<&str>, phone: Option<&str>) -> Result<()> {
    if let Some(e) = email {
        walletport_core::validate_email(e)
            .map_err(|_| invalid("user-email", format!("is not an e-mail address: `{e}`")))?;
    }
    if let Some(p) = phone
        && (p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(invalid("user-phone", "must be digits only"));
    }
    Ok(())
}

/// A pass-id Skycore accepts: non-empty, printable, at most 256 characters.
pub fn pass_id(field: &str, id: &str) -> Result<()> {
    if id.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if id.len() > 256 || id.chars().any(char::is_control) {
        return Err(invalid(field, "must be at most 256 printable characters"));
    }
    Ok(())
}

const DYNAMIC_FIELDS: &[&str] = &[
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
const LINK_TYPES: &[&str] = &["email", "geo-location", "map-link", "phone", "web-link"];
const BARCODE_TYPES: &[&str] = &["QRCODE", "AZTEC", "PDF417", "CODE128"];

/// One object of a template body as validation reads it: a JSON map, or the borrowed view the
/// encoder serialises (so a body is checked without being built as a map).
#[derive(Clone, Copy)]
pub(crate) enum Obj<'s> {
    /// A JSON object.
    Map(&'s Map<String, Value>),
    /// The top level of the encoder's view.
    Top(&'s BTreeMap<&'s str, Node<'s>>),
    /// A merged section of the encoder's view.
    Section(&'s BTreeMap<&'s str, &'s Value>),
}

/// A member of an [`Obj`].
enum Member<'s> {
    Json(&'s Value),
    Str(&'s str),
    Object(Obj<'s>),
}

impl<'s> Obj<'s> {
    fn get(self, key: &str) -> Option<Member<'s>> {
        match self {
            Obj::Map(m) => m.get(key).map(Member::Json),
            Obj::Section(m) => m.get(key).map(|v| Member::Json(v)),
            Obj::Top(m) => m.get(key).map(|n| match n {
                Node::Str(s) => Member::Str(s),
                Node::Json(v) => Member::Json(v),
                Node::Section(m) => Member::Object(Obj::Section(m)),
            }),
        }
    }

    fn keys(self) -> Box<dyn Iterator<Item = &'s str> + 's> {
        match self {
            Obj::Map(m) => Box::new(m.keys().map(String::as_str)),
            Obj::Section(m) => Box::new(m.keys().copied()),
            Obj::Top(m) => Box::new(m.keys().copied()),
        }
    }
}

impl Member<'_> {
    fn text(&self) -> Option<String> {
        match self {
            Member::Json(v) => text(v),
            Member::Str(s) => Some((*s).to_owned()),
            Member::Object(_) => None,
        }
    }
}

fn section<'s>(body: Obj<'s>, name: &str) -> Result<Option<Obj<'s>>> {
    match body.get(name) {
        None | Some(Member::Json(Value::Null)) => Ok(None),
        Some(Member::Json(Value::Object(m))) => Ok(Some(Obj::Map(m))),
        Some(Member::Object(o)) => Ok(Some(o)),
        Some(_) => Err(invalid(name, "must be an object")),
    }
}

fn get(m: Option<Obj<'_>>, key: &str) -> Option<String> {
    m.and_then(|m| m.get(key)).and_then(|v| v.text())
}

fn list_len(value: Option<Member<'_>>, field: &str) -> Result<()> {
    match value {
        None | Some(Member::Json(Value::Null)) => Ok(()),
        Some(Member::Json(Value::Array(items))) if items.len() <= 10 => Ok(()),
        Some(Member::Json(Value::Array(_))) => Err(invalid(field, "allows at most 10 entries")),
        Some(_) => Err(invalid(field, "must be a list")),
    }
}

/// A `createPassTemplate` / `updatePassTemplate` body. `create` also requires the mandatory
/// fields; `layout` (when known) decides whether layout-2 fields are allowed.
pub fn template(body: &Map<String, Value>, layout: Option<Layout>, create: bool) -> Result<()> {
    template_obj(Obj::Map(body), layout, create)
}

/// [`template`] of a body in either form.
pub(crate) fn template_obj(body: Obj<'_>, layout: Option<Layout>, create: bool) -> Result<()> {
    let appearance = section(body, "appearance")?;
    let universal = section(body, "universal-fields")?;
    let apple = section(body, "apple-wallet-fields")?;
    let expiration = section(body, "expiration-fields")?;
    let barcode = section(body, "barcode-fields")?;
    if create {
        let required = [
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
            if get(m, key).is_none_or(|v| v.trim().is_empty()) {
                return Err(invalid(key, "is required to create a template"));
            }
        }
        // Mandatory, but every documented example sends it empty (Apple's default colour).
        if apple.and_then(|a| a.get("text-color")).is_none() {
            return Err(invalid(
                "text-color",
                "is required to create a template (may be empty)",
            ));
        }
    }
    if let Some(c) = get(appearance, "background-color") {
        colour("background-color", &c)?;
    }
    if let Some(c) = get(apple, "text-color").filter(|c| !c.is_empty()) {
        colour("text-color", &c)?;
    }
    if let Some(u) = universal {
        for key in ["link1-type", "link2-type"] {
            if let Some(t) = get(Some(u), key) {
                one_of(key, &t, LINK_TYPES)?;
            }
        }
        for key in u.keys() {
            let layout_two_only = key.starts_with("custom-field-")
                || key.starts_with("dynamic-pass-field-")
                || key.starts_with("expiration-timestamp-")
                || key.starts_with("current-timestamp-");
            if layout_two_only && layout == Some(Layout::One) {
                return Err(invalid(
                    key,
                    "is only available on layout 2 (loyalty-card-type2) templates",
                ));
            }
            if let Some(n) = key.strip_prefix("dynamic-pass-field-") {
                if !matches!(n, "1" | "2" | "3" | "4") {
                    return Err(invalid(key, "does not exist: dynamic-pass-field-1 … 4"));
                }
                if let Some(v) = get(Some(u), key).filter(|v| !v.is_empty()) {
                    one_of(key, &v, DYNAMIC_FIELDS)?;
                }
            }
        }
        if let Some(tz) = get(Some(u), "current-timestamp-timezone") {
            time_zone("current-timestamp-timezone", &tz)?;
        }
    }
    list_len(apple.and_then(|a| a.get("ibeacons")), "ibeacons")?;
    list_len(body.get("relevant-locations"), "relevant-locations")?;
    if let Some(t) = get(barcode, "barcode-type") {
        one_of("barcode-type", &t, BARCODE_TYPES)?;
    }
    if let Some(len) = get(barcode, "autogenerate-barcode-value-length")
        && !len
            .trim()
            .parse::<u32>()
            .is_ok_and(|n| (10..=100).contains(&n))
    {
        return Err(invalid(
            "autogenerate-barcode-value-length",
            format!("must be 10 to 100, got `{len}`"),
        ));
    }
    if let Some(d) = get(expiration, "expiry-date") {
        template_expiry("expiry-date", &d)?;
    }
    for key in [
        "expiry-timezone",
        "expiration-timezone",
        "auto-expire-timezone",
    ] {
        if let Some(tz) = get(expiration, key) {
            time_zone(key, &tz)?;
        }
    }
    match get(expiration, "expiration-setting").as_deref() {
        None | Some("default") => {}
        Some("auto") => {
            let number =
                |k: &str| get(expiration, k).is_some_and(|v| v.trim().parse::<u32>().is_ok());
            if !number("auto-expire-number-days") && !number("auto-expire-number-hours") {
                return Err(invalid(
                    "auto-expire-number-days",
                    "or auto-expire-number-hours is required with expiration-setting = auto",
                ));
            }
            if get(expiration, "auto-expire-timezone").is_none() {
                return Err(invalid(
                    "auto-expire-timezone",
                    "is required with expiration-setting = auto",
                ));
            }
        }
        Some(other) => one_of("expiration-setting", other, &["default", "auto"])?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::wire::RelevantLocation;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn minimal() -> Map<String, Value> {
        obj(json!({
            "pass-template-name": "n",
            "appearance": {"program-logo": "a", "program-logo-gpay": "b", "card-issuer": "c", "background-color": "#030000"},
            "universal-fields": {"program-name": "p"},
            "apple-wallet-fields": {"text-color": "", "description": "d"},
            "barcode-fields": {"barcode-type": "QRCODE"}
        }))
    }

    fn field_of(e: &Error) -> String {
        e.message().split('`').nth(1).unwrap_or_default().to_owned()
    }

    #[test]
    fn template_checks_name_the_field() {
        assert!(template(&minimal(), Some(Layout::One), true).is_ok());
        let cases: Vec<(Value, &str)> = vec![
            (
                json!({"appearance": {"background-color": "red"}}),
                "background-color",
            ),
            (
                json!({"apple-wallet-fields": {"text-color": "#12345"}}),
                "text-color",
            ),
            (
                json!({"barcode-fields": {"barcode-type": "EAN13"}}),
                "barcode-type",
            ),
            (
                json!({"barcode-fields": {"autogenerate-barcode-value-length": "9"}}),
                "autogenerate-barcode-value-length",
            ),
            (
                json!({"universal-fields": {"link1-type": "sms"}}),
                "link1-type",
            ),
            (
                json!({"universal-fields": {"custom-field-1": "x"}}),
                "custom-field-1",
            ),
            (
                json!({"expiration-fields": {"expiry-date": "2020-12-30 18:00"}}),
                "expiry-date",
            ),
            (
                json!({"expiration-fields": {"expiry-timezone": "Mars/Base"}}),
                "expiry-timezone",
            ),
            (
                json!({"expiration-fields": {"expiration-setting": "auto", "auto-expire-timezone": "UTC"}}),
                "auto-expire-number-days",
            ),
            (
                json!({"expiration-fields": {"expiration-setting": "auto", "auto-expire-number-days": "3"}}),
                "auto-expire-timezone",
            ),
            (
                json!({"relevant-locations": vec![json!({}); 11]}),
                "relevant-locations",
            ),
        ];
        for (patch, field) in cases {
            let err = template(&obj(patch.clone()), Some(Layout::One), false).expect_err(field);
            assert_eq!(field_of(&err), field, "{patch}: {err}");
        }
        let mut missing = minimal();
        missing.remove("pass-template-name");
        assert_eq!(
            field_of(&template(&missing, None, true).unwrap_err()),
            "pass-template-name"
        );
        let two = obj(
            json!({"universal-fields": {"dynamic-pass-field-1": "custom-field-1", "custom-field-1": "x"}}),
        );
        assert!(template(&two, Some(Layout::Two), false).is_ok());
        let bad = obj(json!({"universal-fields": {"dynamic-pass-field-1": "rewards-tier"}}));
        assert_eq!(
            field_of(&template(&bad, Some(Layout::Two), false).unwrap_err()),
            "dynamic-pass-field-1"
        );
    }

    #[test]
    fn pass_checks_name_the_field() {
        let mut data = PassData {
            custom_fields: [None, Some("x".into()), None],
            ..PassData::default()
        };
        assert_eq!(
            field_of(&pass_data(&data, Some(Layout::One)).unwrap_err()),
            "custom-field-2"
        );
        assert!(pass_data(&data, Some(Layout::Two)).is_ok());
        assert!(
            pass_data(&data, None).is_ok(),
            "unknown layout: Skycore decides"
        );
        data.messages.insert(3, "static".into());
        assert_eq!(field_of(&pass_data(&data, None).unwrap_err()), "message3");
        let loc = RelevantLocation {
            key: None,
            latitude: "91".into(),
            longitude: "0".into(),
            relevant_text: None,
        };
        let data = PassData {
            relevant_locations: vec![loc],
            ..PassData::default()
        };
        assert_eq!(field_of(&pass_data(&data, None).unwrap_err()), "latitude");
        let data = PassData {
            expiration_timezone: Some("Europe/Atlantis".into()),
            ..PassData::default()
        };
        assert_eq!(
            field_of(&pass_data(&data, None).unwrap_err()),
            "expiration-timezone"
        );
        assert_eq!(
            field_of(&meta_data(None, Some("+420")).unwrap_err()),
            "user-phone"
        );
        assert_eq!(
            field_of(&meta_data(Some("x"), None).unwrap_err()),
            "user-email"
        );
        assert!(iso_timestamp("t", "2013-02-19T15:54:50Z").is_ok());
        assert!(iso_timestamp("t", "2020/10/23T00:00-10:00").is_err());
    }
}
