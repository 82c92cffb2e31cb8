use serde::{Deserialize, Serialize};

use crate::ids::TemplateId;

/// The type of a template field (Passteam variable types, Skycore field kinds).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Free text.
    #[default]
    Text,
    /// A phone number.
    Phone,
    /// An e-mail address.
    Email,
    /// A date.
    Date,
    /// A date and time.
    DateTime,
    /// One of a fixed list of values.
    List(Vec<String>),
    /// A yes/no flag.
    Flag,
    /// A number.
    Number,
}

/// One field of a card design. Unknown keys are refused: a misspelt `requried` must not be
/// dropped without a word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateField {
    /// The variable name (e.g. `PHONE`, `loyalty-points`).
    pub name: String,
    /// The label shown to people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The value type.
    #[serde(default)]
    pub kind: FieldKind,
    /// Whether a value is required.
    #[serde(default)]
    pub required: bool,
    /// Whether values must be unique across cards.
    #[serde(default)]
    pub unique: bool,
}

/// A card design template. Unknown keys are refused (vendor-specific ones belong in
/// `settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The vendor's id (absent before creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<TemplateId>,
    /// The name.
    pub name: String,
    /// The vendor's layout name (e.g. Skycore `loyalty-card-type2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// The fields.
    #[serde(default)]
    pub fields: Vec<TemplateField>,
    /// Vendor-specific settings (colours, images, counters) kept as JSON.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// A template in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSummary {
    /// The id.
    pub id: TemplateId,
    /// The name.
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_and_settings_keep_vendor_keys() {
        let misspelt = r#"{"name": "t", "fields": [{"name": "A", "requried": true}]}"#;
        let err = serde_json::from_str::<Template>(misspelt).expect_err("misspelt key");
        assert!(err.to_string().contains("requried"), "{err}");
        let extra = r#"{"name": "t", "colour": "red"}"#;
        assert!(serde_json::from_str::<Template>(extra).is_err());
        let ok = r#"{"name": "t", "settings": {"colour": "red"}}"#;
        let t: Template = serde_json::from_str(ok).expect("settings");
        assert_eq!(t.settings["colour"], "red");
        let back: Template = serde_json::from_value(serde_json::to_value(&t).expect("ser"))
            .expect("a template reads back what it writes");
        assert_eq!(back, t);
    }
}
