//! [`PassteamProvider::check_config`]: the start-up check of `[provider]` against the account.
//!
//! One `gettemplate` (plus one `getatoken` when no token is configured) proves the credentials,
//! the template and every mapped variable with a type its domain field can be written to.

use std::sync::Arc;

use walletport_core::ports::op;
use walletport_core::{Error, ErrorKind, FieldKind, ProviderCheck, Result};

use super::PassteamProvider;
use crate::config::FieldMap;
use crate::mapping::template::{self, TemplateSchema};

/// The variable types a domain field of `[provider.fields]` can be written to and read from.
fn compatible(field: &str, kind: &FieldKind) -> bool {
    match field {
        "phone" => matches!(kind, FieldKind::Phone | FieldKind::Text),
        "email" => matches!(kind, FieldKind::Email | FieldKind::Text),
        "birthday" => matches!(
            kind,
            FieldKind::Date | FieldKind::DateTime | FieldKind::Text
        ),
        "balance" | "bonus" | "discount" => matches!(kind, FieldKind::Number | FieldKind::Text),
        "card_number" => matches!(kind, FieldKind::Text | FieldKind::Number),
        _ => matches!(kind, FieldKind::Text | FieldKind::List(_)),
    }
}

fn kind_name(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Text => "text",
        FieldKind::Phone => "phone",
        FieldKind::Email => "email",
        FieldKind::Date => "date",
        FieldKind::DateTime => "date_time",
        FieldKind::Flag => "flag",
        FieldKind::Number => "number",
        FieldKind::List(_) => "list",
    }
}

/// Checks every mapping of `map` against `schema`; the error names the `[provider.fields]` key.
pub(crate) fn check_fields(map: &FieldMap, schema: &TemplateSchema) -> Result<Vec<String>> {
    let mut checked = Vec::new();
    for (field, var) in map.entries() {
        let Some(f) = schema.field(var) else {
            return Err(Error::config(format!(
                "[provider.fields] {field}: the template has no variable `{var}`"
            )));
        };
        if !compatible(field, &f.kind) {
            return Err(Error::config(format!(
                "[provider.fields] {field}: variable `{var}` is of type {}, which cannot hold the {field}",
                kind_name(&f.kind)
            )));
        }
        schema
            .date_style(var)
            .map_err(|e| Error::config(format!("[provider.fields] {field}: {}", e.message())))?;
        checked.push(format!(
            "[provider.fields] {field} = `{var}` ({})",
            kind_name(&f.kind)
        ));
    }
    Ok(checked)
}

impl PassteamProvider {
    /// [`walletport_core::Provider::check`] for Passteam: `gettemplate` of `template_id` (and
    /// `getatoken` first when only a login is configured), then every mapped variable against
    /// the template. The template read fills the cache the value checks use.
    pub(crate) async fn check_config(&self) -> Result<ProviderCheck> {
        let stamp = Self::stamp(op::CHECK);
        let template = self.config.template_id.clone().ok_or_else(|| {
            stamp(Error::config(
                "[provider] template_id: passteam needs the template cards live in",
            ))
        })?;
        let token_requests = u32::from(self.needs_token().await);
        let mut req = template::build_gettemplate_request(&template, &self.config);
        req.operation = op::CHECK;
        let wire = match self.call(req, template::parse_gettemplate_wire).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(stamp(Error::not_found(format!(
                    "[provider] template_id: the account has no template {template}"
                ))));
            }
            Err(e) if e.kind() == ErrorKind::Unauthenticated => {
                let key = if self.config.token.is_some() {
                    "[provider] token"
                } else {
                    "[provider] login / password"
                };
                return Err(stamp(Error::new(
                    ErrorKind::Unauthenticated,
                    format!("{key}: Passteam rejected the credentials"),
                )));
            }
            other => other?,
        };
        let schema = Arc::new(TemplateSchema::from_wire(&wire).map_err(&stamp)?);
        let mut checked = vec![format!("template {template} exists")];
        checked.extend(check_fields(&self.config.fields, &schema).map_err(&stamp)?);
        self.remember_schema(template, schema).await;
        let account = wire.owner.or(wire.user_title).or(wire.title);
        Ok(ProviderCheck {
            account,
            checked,
            requests: 1 + token_requests,
        })
    }
}
