//! Sales and products: the paths the reference assumes (`getsale`, `updatesale`, `deletesale`,
//! `createproduct`, `updateproduct`, `deleteproduct`, `products`) with the documented verbs.

use std::collections::BTreeMap;

use axum::http::Method;
use serde_json::{Map, Value, json};

use super::state::Fail;
use super::{Shared, form, lock};

type Answer = Result<Value, Fail>;

fn id(f: &form::Form) -> Result<String, Fail> {
    f.text("id")
        .ok_or_else(|| Fail::new(400, "Parameter id is required."))
}

fn price(f: &form::Form, name: &str) -> Result<Option<Value>, Fail> {
    match f.text(name) {
        None => Ok(None),
        Some(p) => match p.parse::<rust_decimal::Decimal>() {
            Ok(d) if !d.is_sign_negative() => Ok(Some(Value::String(d.normalize().to_string()))),
            _ => Err(Fail::new(
                400,
                format!("Parameter {name} must be a non-negative number."),
            )),
        },
    }
}

/// The `companyId` a request names must be the account's; Passteam answers 404 otherwise.
fn check_company(s: &Shared, f: &form::Form) -> Result<(), Fail> {
    if f.get("companyId") == Some(s.config.company_id.as_str()) {
        Ok(())
    } else {
        Err(Fail::new(404, "Company not found."))
    }
}

/// A paging parameter: a whole number from 1, or `default` when absent or malformed.
fn page_param(f: &form::Form, name: &str, default: usize) -> usize {
    f.text(name)
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(default)
}

/// The 404 Passteam answers for an unknown sale or product: "`what` not found.".
fn not_found(what: &str) -> Fail {
    Fail::new(404, format!("{what} not found."))
}

/// The stored sale or product (`what`) the request's `id` names.
fn stored<'a>(
    items: &'a mut BTreeMap<String, Value>,
    f: &form::Form,
    what: &str,
) -> Result<&'a mut Value, Fail> {
    items.get_mut(&id(f)?).ok_or_else(|| not_found(what))
}

/// The answer of a delete: `true`, or 404 "`what` not found." when there was nothing to remove.
fn deleted(removed: Option<Value>, what: &str) -> Answer {
    removed
        .map(|_| Value::Bool(true))
        .ok_or_else(|| not_found(what))
}

/// `products[0][name]=x` → `[{name: x}]`.
fn products(f: &form::Form) -> Option<Vec<Value>> {
    let mut lines: BTreeMap<usize, Map<String, Value>> = BTreeMap::new();
    for (k, v) in &f.fields {
        let Some(rest) = k.strip_prefix("products[") else {
            continue;
        };
        let Some((index, field)) = rest.split_once("][") else {
            continue;
        };
        let (Ok(index), Some(field)) = (index.parse::<usize>(), field.strip_suffix(']')) else {
            continue;
        };
        lines
            .entry(index)
            .or_default()
            .insert(field.to_owned(), Value::String(v.clone()));
    }
    (!lines.is_empty()).then(|| lines.into_values().map(Value::Object).collect())
}

pub(crate) fn dispatch(s: &Shared, verb: &Method, method: &str, f: &form::Form) -> Answer {
    match (verb.as_str(), method) {
        ("GET", "getsale") => stored(&mut lock(&s.account).sales, f, "Sale").cloned(),
        ("PUT", "updatesale") => {
            let mut a = lock(&s.account);
            let sale = stored(&mut a.sales, f, "Sale")?;
            for key in ["title", "cardId", "clientName"] {
                if let Some(v) = f.text(key) {
                    sale[key] = Value::String(v);
                }
            }
            for (key, allowed) in [
                ("paymentType", ["CARD", "CASH"]),
                ("paymentStatus", ["DRAFT", "PAID"]),
            ] {
                if let Some(v) = f.text(key) {
                    if !allowed.contains(&v.as_str()) {
                        return Err(Fail::new(
                            400,
                            format!("Parameter {key} must be one of {}.", allowed.join(", ")),
                        ));
                    }
                    sale[key] = Value::String(v);
                }
            }
            if let Some(p) = price(f, "totalPrice")? {
                sale["totalPrice"] = p;
            }
            if let Some(items) = products(f) {
                sale["products"] = Value::Array(items);
            }
            Ok(sale.clone())
        }
        ("DELETE", "deletesale") => deleted(lock(&s.account).sales.remove(&id(f)?), "Sale"),
        ("POST", "createproduct") => {
            check_company(s, f)?;
            let name = f
                .text("name")
                .ok_or_else(|| Fail::new(400, "Parameter name is required."))?;
            let price =
                price(f, "price")?.ok_or_else(|| Fail::new(400, "Parameter price is required."))?;
            let mut a = lock(&s.account);
            let id = format!("product-{}", a.products.len() + 1);
            let product = json!({ "_id": id, "companyId": s.config.company_id, "name": name, "price": price });
            a.products.insert(id, product.clone());
            Ok(product)
        }
        ("PUT", "updateproduct") => {
            let mut a = lock(&s.account);
            let product = stored(&mut a.products, f, "Product")?;
            if let Some(n) = f.text("name") {
                product["name"] = Value::String(n);
            }
            if let Some(p) = price(f, "price")? {
                product["price"] = p;
            }
            Ok(product.clone())
        }
        ("DELETE", "deleteproduct") => {
            deleted(lock(&s.account).products.remove(&id(f)?), "Product")
        }
        ("POST", "products") => {
            check_company(s, f)?;
            let page = page_param(f, "page", 1);
            let per = page_param(f, "perPage", 20).min(100);
            let a = lock(&s.account);
            let all: Vec<&Value> = a.products.values().collect();
            let items: Vec<Value> = all
                .iter()
                .skip((page - 1).saturating_mul(per))
                .take(per)
                .map(|v| (*v).clone())
                .collect();
            let next = (page.saturating_mul(per) < all.len()).then_some(page + 1);
            Ok(json!({ "products": items, "nextPage": next, "count": all.len() }))
        }
        (verb, method) => Err(Fail::new(404, format!("Unknown method {verb} {method}."))),
    }
}
