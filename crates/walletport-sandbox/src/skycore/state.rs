//! What the Skycore emulator remembers: templates, passes, issuance links and the logs tests read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The two loyalty-card layouts a Skycore pass template can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Layout {
    /// `loyalty-card-type1`: strip image and two front fields.
    #[default]
    #[serde(rename = "loyalty-card-type1")]
    One,
    /// `loyalty-card-type2`: up to four dynamic front fields and three custom fields.
    #[serde(rename = "loyalty-card-type2")]
    Two,
}

impl Layout {
    /// The subtype name Skycore uses.
    pub fn subtype(self) -> &'static str {
        match self {
            Self::One => "loyalty-card-type1",
            Self::Two => "loyalty-card-type2",
        }
    }

    /// Reads a subtype name (case-insensitive).
    pub fn from_subtype(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("loyalty-card-type1") {
            Some(Self::One)
        } else if s.eq_ignore_ascii_case("loyalty-card-type2") {
            Some(Self::Two)
        } else {
            None
        }
    }
}

/// A pass template as created (the request body without `action`).
#[derive(Debug, Clone)]
pub(super) struct TemplateRecord {
    pub(super) layout: Layout,
    pub(super) body: Map<String, Value>,
}

/// A generated pass.
#[derive(Debug, Clone)]
pub(super) struct PassRecord {
    pub(super) template_id: String,
    pub(super) pass_data: Map<String, Value>,
    pub(super) meta_data: Map<String, Value>,
    pub(super) reference_data: Value,
    pub(super) install_url: String,
    pub(super) tracking_id: String,
}

/// An issuance link as created.
#[derive(Debug, Clone)]
pub(super) struct LinkRecord {
    pub(super) body: Map<String, Value>,
    pub(super) preview_url: String,
}

/// One pass update notification Skycore would have pushed to the installed pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkycoreNotification {
    /// The pass that received it (after any rename in the same request).
    pub pass_id: String,
    /// The text shown on the device.
    pub message: String,
}

/// One request the emulator accepted past the API-key check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkycoreRequest {
    /// The `action` exactly as sent.
    pub action: String,
    /// The whole JSON body.
    pub body: Value,
}

/// The emulator's whole state, behind one lock.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) templates: BTreeMap<String, TemplateRecord>,
    pub(super) passes: BTreeMap<String, PassRecord>,
    pub(super) links: BTreeMap<String, LinkRecord>,
    pub(super) notifications: Vec<SkycoreNotification>,
    pub(super) requests: Vec<SkycoreRequest>,
    /// Actions (lower case) to answer with their internal-error code after processing them,
    /// with how many times left.
    pub(super) fail_after: BTreeMap<String, u32>,
    counter: u64,
    seed: u64,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl State {
    pub(super) fn new(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// A fresh, reproducible lowercase hex id of `len` characters (at most 32).
    pub(super) fn next_hex(&mut self, len: usize) -> String {
        self.counter += 1;
        let a = splitmix(self.seed ^ self.counter);
        let b = splitmix(a ^ self.counter.rotate_left(17));
        let mut hex = format!("{a:016x}{b:016x}");
        hex.truncate(len.min(32));
        hex
    }
}

/// A minimal valid template body for a seeded template.
pub(super) fn seed_template_body(name: &str, layout: Layout) -> Map<String, Value> {
    let mut universal = json!({
        "program-name": "Sandbox Rewards",
        "loyalty-points-label": "POINTS",
        "secondary-loyalty-points-label": "BONUS",
        "account-name-label": "MEMBER NAME",
        "account-id-label": "MEMBER ID",
        "message1": "Your loyalty card never expires!"
    });
    if layout == Layout::Two {
        universal["dynamic-pass-field-1"] = json!("loyalty-points");
        universal["dynamic-pass-field-2"] = json!("secondary-loyalty-points");
        universal["dynamic-pass-field-3"] = json!("custom-field-1");
        universal["custom-field-1-label"] = json!("TIER");
    }
    let body = json!({
        "pass-template-type": "loyalty",
        "pass-template-subtype": layout.subtype(),
        "pass-template-name": name,
        "appearance": {
            "program-logo": "https://sandbox.skycore.invalid/logo.png",
            "program-logo-gpay": "https://sandbox.skycore.invalid/logo-gpay.png",
            "card-issuer": "Sandbox Store",
            "background-color": "#030000"
        },
        "universal-fields": universal,
        "apple-wallet-fields": {"text-color": "#FFFFFF", "description": "Sandbox loyalty card"},
        "barcode-fields": {"barcode-type": "QRCODE"}
    });
    match body {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Merges `patch` into `base`: objects key by key (one level deep), everything else replaced.
pub(super) fn merge(base: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(p)) => {
                for (pk, pv) in p {
                    b.insert(pk.clone(), pv.clone());
                }
            }
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}
