//! Parameter names the Passteam document does not give, in one overridable place
//! (`[provider.param_names]`; the Sales and Products paths are in `[provider.commerce_paths]`).
//!
//! The defaults are the adapter's best reading of the document and what the emulator accepts;
//! none is confirmed against the live API. When Passteam answers "Parameter X is required" for a
//! method below, set the name it wants here instead of patching the adapter.

use serde::{Deserialize, Serialize};
use walletport_core::{Error, Result};

/// The form-field names of the methods whose parameters the document leaves unnamed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParamNames {
    /// `getatoken`: the login (default `login`).
    pub getatoken_login: String,
    /// `getatoken`: the password (default `password`).
    pub getatoken_password: String,
    /// `distribute`: the card (default `cardId`).
    pub distribute_card: String,
    /// `distribute`: the channel, `sms` or `email` (default `type`).
    pub distribute_channel: String,
    /// `checkvariablevalue`: the variable's name (default `variable`).
    pub checkvariable_variable: String,
    /// `checkvariablevalue`: the value (default `value`).
    pub checkvariable_value: String,
    /// `sendpush`: the template (default `templateId`).
    pub sendpush_template: String,
    /// `sendpush`: the text (default `message`).
    pub sendpush_message: String,
    /// `getcardswithpagination`: cards per page (default `perPage`, as in the products method).
    pub per_page: String,
}

impl Default for ParamNames {
    fn default() -> Self {
        Self {
            getatoken_login: "login".into(),
            getatoken_password: "password".into(),
            distribute_card: "cardId".into(),
            distribute_channel: "type".into(),
            checkvariable_variable: "variable".into(),
            checkvariable_value: "value".into(),
            sendpush_template: "templateId".into(),
            sendpush_message: "message".into(),
            per_page: "perPage".into(),
        }
    }
}

impl ParamNames {
    /// Every name with its key, for validation and listings.
    pub fn entries(&self) -> [(&'static str, &str); 9] {
        [
            ("getatoken_login", &self.getatoken_login),
            ("getatoken_password", &self.getatoken_password),
            ("distribute_card", &self.distribute_card),
            ("distribute_channel", &self.distribute_channel),
            ("checkvariable_variable", &self.checkvariable_variable),
            ("checkvariable_value", &self.checkvariable_value),
            ("sendpush_template", &self.sendpush_template),
            ("sendpush_message", &self.sendpush_message),
            ("per_page", &self.per_page),
        ]
    }

    /// A name must be a plain form-field name: non-empty, no whitespace, `"`, `[` or `]`.
    pub fn validate(&self) -> Result<()> {
        for (key, name) in self.entries() {
            let bad = name.is_empty()
                || name
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '[' | ']'));
            if bad {
                return Err(Error::config(format!(
                    "[provider.param_names] {key}: `{name}` is not a form-field name"
                )));
            }
        }
        Ok(())
    }
}

/// Paths of the Sales and Products methods.
///
/// The document lists these operations with verbs and parameters but no paths; the defaults
/// follow the `/oapi/v1/<method>` convention with lower-case method names. Override them here if
/// Passteam tells you otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommercePaths {
    /// `GET` Get Sale.
    pub get_sale: String,
    /// `PUT` Update Sale.
    pub update_sale: String,
    /// `DELETE` Delete Sale.
    pub delete_sale: String,
    /// `POST` CreateProduct.
    pub create_product: String,
    /// `PUT` UpdateProduct.
    pub update_product: String,
    /// `DELETE` DeleteProduct.
    pub delete_product: String,
    /// `POST` Products (listing).
    pub products: String,
}

impl Default for CommercePaths {
    fn default() -> Self {
        Self {
            get_sale: "/oapi/v1/getsale".into(),
            update_sale: "/oapi/v1/updatesale".into(),
            delete_sale: "/oapi/v1/deletesale".into(),
            create_product: "/oapi/v1/createproduct".into(),
            update_product: "/oapi/v1/updateproduct".into(),
            delete_product: "/oapi/v1/deleteproduct".into(),
            products: "/oapi/v1/products".into(),
        }
    }
}

impl CommercePaths {
    /// Every path must start with `/`.
    pub fn validate(&self) -> Result<()> {
        for path in [
            &self.get_sale,
            &self.update_sale,
            &self.delete_sale,
            &self.create_product,
            &self.update_product,
            &self.delete_product,
            &self.products,
        ] {
            if !path.starts_with('/') {
                return Err(Error::config(format!(
                    "commerce path `{path}` must start with `/`"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{BodyEncoding, PassteamConfig};
    use crate::mapping::ops::build_page_request;
    use crate::mapping::push::{
        DistributeChannel, build_distribute_request, build_sendpush_request,
    };

    #[test]
    fn each_guessed_name_can_be_overridden() {
        let c: PassteamConfig = serde_json::from_value(serde_json::json!({
            "token": "t", "encoding": "form",
            "param_names": {
                "distribute_card": "card", "distribute_channel": "channel",
                "sendpush_message": "text", "per_page": "limit"
            }
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let c = c.validated().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.encoding, BodyEncoding::Form);
        let body =
            |req: walletport_http::HttpRequest| String::from_utf8_lossy(&req.body).into_owned();
        let card = walletport_core::CardId::new("5e451571cea6c6141807b792")
            .unwrap_or_else(|e| panic!("{e}"));
        let template = "5e424c181dbf0d537c8b4569"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            body(build_distribute_request(&card, DistributeChannel::Sms, &c)),
            "card=5e451571cea6c6141807b792&channel=sms"
        );
        assert!(body(build_sendpush_request(&template, "hi", &c)).ends_with("&text=hi"));
        assert!(body(build_page_request(&template, 1, 10, "op", &c)).ends_with("&limit=10"));
        let bad: Result<PassteamConfig, _> = serde_json::from_value(serde_json::json!({
            "token": "t", "param_names": { "per_page": "per page" }
        }));
        let bad = bad.unwrap_or_else(|e| panic!("{e}")).validated();
        assert!(bad.is_err_and(|e| e.message().contains("[provider.param_names] per_page")));
        let typo: Result<PassteamConfig, _> = serde_json::from_value(serde_json::json!({
            "token": "t", "param_names": { "perpage": "x" }
        }));
        assert!(typo.is_err());
    }
}
