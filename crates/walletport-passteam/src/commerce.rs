//! Sales (`Покупки`) and Products (`Товары`): a Passteam-specific typed API, not a core port
//! (no other vendor has it).
//!
//! The document gives these operations with verbs and parameters but no paths; the paths follow
//! the `/oapi/v1/<method>` convention ([`crate::CommercePaths`], overridable in config). GET and
//! DELETE carry `id` in the query string; PUT and POST carry form bodies in the configured
//! encoding, a sale's products as PHP-style `products[0][name]` fields.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use walletport_core::{Error, ErrorKind, Result};
use walletport_http::{HttpRequest, HttpResponse, Method};

use crate::config::PassteamConfig;
use crate::encoding::FormBody;
use crate::mapping::{OnDuplicate, authorize, parse_envelope, result_as};
use crate::wire::value_text;

/// Operation names of the commerce methods, for errors and traces.
pub mod op {
    #![allow(missing_docs)]
    pub const SALE_GET: &str = "passteam.sale.get";
    pub const SALE_UPDATE: &str = "passteam.sale.update";
    pub const SALE_DELETE: &str = "passteam.sale.delete";
    pub const PRODUCT_CREATE: &str = "passteam.product.create";
    pub const PRODUCT_UPDATE: &str = "passteam.product.update";
    pub const PRODUCT_DELETE: &str = "passteam.product.delete";
    pub const PRODUCT_LIST: &str = "passteam.product.list";
}

/// How a sale was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PaymentType {
    /// By card.
    Card,
    /// In cash.
    Cash,
}

/// Where a sale stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PaymentStatus {
    /// A draft.
    Draft,
    /// Paid.
    Paid,
}

/// One product line of a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleItem {
    /// The product id (`_id`).
    #[serde(rename = "_id", default, deserialize_with = "opt_text")]
    pub id: Option<String>,
    /// The product name.
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// How many.
    #[serde(default, deserialize_with = "decimal")]
    pub quantity: Decimal,
    /// Unit price.
    #[serde(default, deserialize_with = "decimal")]
    pub price: Decimal,
}

/// A sale (purchase) of a card holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sale {
    /// The sale id (`id` or `_id`).
    #[serde(default, alias = "_id", deserialize_with = "opt_text")]
    pub id: Option<String>,
    /// Title.
    #[serde(default, deserialize_with = "opt_text")]
    pub title: Option<String>,
    /// CARD or CASH.
    #[serde(default)]
    pub payment_type: Option<PaymentType>,
    /// DRAFT or PAID.
    #[serde(default)]
    pub payment_status: Option<PaymentStatus>,
    /// Total price (the document says int; decimals are accepted).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub total_price: Option<Decimal>,
    /// The card (client) the sale belongs to.
    #[serde(default, deserialize_with = "opt_text")]
    pub card_id: Option<String>,
    /// Product lines.
    #[serde(default)]
    pub products: Vec<SaleItem>,
    /// The buyer's name.
    #[serde(default, deserialize_with = "opt_text")]
    pub client_name: Option<String>,
}

/// A product of the company catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// The product id (`id` or `_id`).
    #[serde(default, alias = "_id", deserialize_with = "opt_text")]
    pub id: Option<String>,
    /// The company.
    #[serde(default, deserialize_with = "opt_text")]
    pub company_id: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    /// Price.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub price: Option<Decimal>,
}

/// One page of products.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductPage {
    /// The products.
    pub items: Vec<Product>,
    /// The next page number, if the vendor says there is one.
    pub next_page: Option<u64>,
    /// Total count, if reported.
    pub total: Option<u64>,
}

fn opt_text<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(value_text(&Value::deserialize(d)?))
}

fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Decimal>, D::Error> {
    Ok(match value_text(&Value::deserialize(d)?) {
        Some(s) if !s.trim().is_empty() => Some(
            s.trim()
                .parse::<Decimal>()
                .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a number")))?,
        ),
        _ => None,
    })
}

fn decimal<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Decimal, D::Error> {
    Ok(opt_decimal(d)?.unwrap_or_default())
}

fn with_body(
    config: &PassteamConfig,
    method: Method,
    operation: &'static str,
    path: &str,
    body: &FormBody,
    idempotent: bool,
) -> HttpRequest {
    let (content_type, bytes) = body.encode(config.encoding);
    let req = HttpRequest::new(method, operation, path)
        .header("Content-Type", &content_type)
        .body(bytes)
        .idempotent(idempotent);
    with_token(config, req)
}

fn with_token(config: &PassteamConfig, req: HttpRequest) -> HttpRequest {
    use secrecy::ExposeSecret;
    match &config.token {
        Some(t) => authorize(req, t.expose_secret()),
        None => req,
    }
}

fn require_id(id: &str, what: &str) -> Result<()> {
    if id.trim().is_empty() || id.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!(
            "{what} id must be non-empty text"
        )));
    }
    Ok(())
}

fn company(config: &PassteamConfig) -> Result<&str> {
    config
        .company_id
        .as_deref()
        .ok_or_else(|| Error::config("passteam products need `company_id` in the config"))
}

/// `GET` Get Sale `?id=`.
pub fn build_get_sale_request(id: &str, config: &PassteamConfig) -> Result<HttpRequest> {
    require_id(id, "sale")?;
    let req =
        HttpRequest::get(op::SALE_GET, config.commerce_paths.get_sale.clone()).query("id", id);
    Ok(with_token(config, req))
}

/// `PUT` Update Sale with every field that is set (`id` required).
pub fn build_update_sale_request(sale: &Sale, config: &PassteamConfig) -> Result<HttpRequest> {
    let id = sale.id.as_deref().unwrap_or_default();
    require_id(id, "sale")?;
    let mut body = FormBody::new().field("id", id);
    let opt = [
        ("title", sale.title.clone()),
        (
            "paymentType",
            sale.payment_type.map(|p| match p {
                PaymentType::Card => "CARD".to_owned(),
                PaymentType::Cash => "CASH".to_owned(),
            }),
        ),
        (
            "paymentStatus",
            sale.payment_status.map(|p| match p {
                PaymentStatus::Draft => "DRAFT".to_owned(),
                PaymentStatus::Paid => "PAID".to_owned(),
            }),
        ),
        (
            "totalPrice",
            sale.total_price.map(|p| p.normalize().to_string()),
        ),
        ("cardId", sale.card_id.clone()),
        ("clientName", sale.client_name.clone()),
    ];
    for (k, v) in opt {
        if let Some(v) = v {
            body.push(k, v);
        }
    }
    for (i, item) in sale.products.iter().enumerate() {
        if item.quantity.is_sign_negative() || item.price.is_sign_negative() {
            return Err(Error::invalid_input(format!(
                "sale product {i}: quantity and price must not be negative"
            )));
        }
        if let Some(pid) = &item.id {
            body.push(format!("products[{i}][_id]"), pid.as_str());
        }
        if let Some(name) = &item.name {
            body.push(format!("products[{i}][name]"), name.as_str());
        }
        body.push(
            format!("products[{i}][quantity]"),
            item.quantity.normalize().to_string(),
        );
        body.push(
            format!("products[{i}][price]"),
            item.price.normalize().to_string(),
        );
    }
    Ok(with_body(
        config,
        Method::PUT,
        op::SALE_UPDATE,
        &config.commerce_paths.update_sale,
        &body,
        true,
    ))
}

/// `DELETE <path>?id=<id>`, after checking the id of the `what` (a sale, a product) to delete.
fn build_delete(
    config: &PassteamConfig,
    operation: &'static str,
    path: &str,
    what: &str,
    id: &str,
) -> Result<HttpRequest> {
    require_id(id, what)?;
    let req = HttpRequest::new(Method::DELETE, operation, path.to_owned()).query("id", id);
    Ok(with_token(config, req))
}

/// `DELETE` Delete Sale `?id=`.
pub fn build_delete_sale_request(id: &str, config: &PassteamConfig) -> Result<HttpRequest> {
    build_delete(
        config,
        op::SALE_DELETE,
        &config.commerce_paths.delete_sale,
        "sale",
        id,
    )
}

/// The object in `result`, or in `result.<key>` where the vendor wraps it; `NotFound`
/// ("no such <key>") for `null`. Sales and products answer alike.
fn parse_one<T: serde::de::DeserializeOwned>(
    resp: &HttpResponse,
    on_duplicate: OnDuplicate,
    key: &str,
) -> Result<T> {
    let mut result = parse_envelope(resp, on_duplicate)?;
    if let Some(inner) = result.get_mut(key) {
        result = inner.take();
    }
    if result.is_null() {
        return Err(Error::not_found(format!("no such {key}")));
    }
    result_as(resp, result)
}

/// A sale in `result` (or `result.sale`); `NotFound` for `null`.
pub fn parse_sale_response(resp: &HttpResponse) -> Result<Sale> {
    parse_one(resp, OnDuplicate::Conflict, "sale")
}

/// Any successful answer (deletes).
pub fn parse_ok_response(resp: &HttpResponse) -> Result<()> {
    let result = parse_envelope(resp, OnDuplicate::Conflict)?;
    if result == Value::Bool(false) {
        return Err(Error::not_found("nothing was deleted"));
    }
    Ok(())
}

fn check_price(price: Decimal) -> Result<()> {
    if price.is_sign_negative() {
        return Err(Error::invalid_input("price must not be negative"));
    }
    Ok(())
}

/// `POST` CreateProduct (`companyId` from config). Not idempotent.
pub fn build_create_product_request(
    name: &str,
    price: Decimal,
    config: &PassteamConfig,
) -> Result<HttpRequest> {
    if name.trim().is_empty() {
        return Err(Error::invalid_input("product name must not be empty"));
    }
    check_price(price)?;
    let body = FormBody::new()
        .field("companyId", company(config)?)
        .field("name", name)
        .field("price", price.normalize().to_string());
    Ok(with_body(
        config,
        Method::POST,
        op::PRODUCT_CREATE,
        &config.commerce_paths.create_product,
        &body,
        false,
    ))
}

/// `PUT` UpdateProduct.
pub fn build_update_product_request(
    id: &str,
    name: &str,
    price: Decimal,
    config: &PassteamConfig,
) -> Result<HttpRequest> {
    require_id(id, "product")?;
    check_price(price)?;
    let body = FormBody::new()
        .field("id", id)
        .field("name", name)
        .field("price", price.normalize().to_string());
    Ok(with_body(
        config,
        Method::PUT,
        op::PRODUCT_UPDATE,
        &config.commerce_paths.update_product,
        &body,
        true,
    ))
}

/// `DELETE` DeleteProduct `?id=`.
pub fn build_delete_product_request(id: &str, config: &PassteamConfig) -> Result<HttpRequest> {
    build_delete(
        config,
        op::PRODUCT_DELETE,
        &config.commerce_paths.delete_product,
        "product",
        id,
    )
}

/// `POST` Products: `page` from 1, `perPage`.
pub fn build_list_products_request(
    page: u64,
    per_page: u32,
    config: &PassteamConfig,
) -> Result<HttpRequest> {
    let body = FormBody::new()
        .field("companyId", company(config)?)
        .field("page", page.max(1).to_string())
        .field("perPage", per_page.max(1).to_string());
    Ok(with_body(
        config,
        Method::POST,
        op::PRODUCT_LIST,
        &config.commerce_paths.products,
        &body,
        true,
    ))
}

/// A product in `result` (or `result.product`).
pub fn parse_product_response(resp: &HttpResponse) -> Result<Product> {
    parse_one(resp, OnDuplicate::AlreadyExists, "product")
}

/// Products as an array, or `{products|items, nextPage, count}`.
pub fn parse_products_response(resp: &HttpResponse) -> Result<ProductPage> {
    let result = parse_envelope(resp, OnDuplicate::Conflict)?;
    let num = |v: Option<&Value>| v.and_then(value_text).and_then(|s| s.parse::<u64>().ok());
    let (items, next_page, total) = match &result {
        Value::Array(_) => (result.clone(), None, None),
        Value::Object(m) => (
            m.get("products")
                .or_else(|| m.get("items"))
                .cloned()
                .unwrap_or(Value::Array(vec![])),
            num(m.get("nextPage")).filter(|n| *n > 0),
            num(m.get("count").or_else(|| m.get("productsCount"))),
        ),
        Value::Null => (Value::Array(vec![]), None, None),
        _ => return Err(resp.error(ErrorKind::Unexpected, "Products: unexpected result")),
    };
    Ok(ProductPage {
        items: result_as(resp, items)?,
        next_page,
        total,
    })
}
