//! Passteam-specific methods beyond the core ports: `distribute`, `checkvariablevalue`, a stream
//! over every card of a template, and Sales / Products ([`Commerce`]).

use futures::stream::{self, BoxStream, StreamExt};
use rust_decimal::Decimal;
use walletport_core::{CardId, Result, TemplateId};

use super::PassteamProvider;
use crate::commerce::{self, Product, ProductPage, Sale};
use crate::mapping::ops::{self, MAX_PER_PAGE, Uniqueness};
use crate::mapping::push::{self, DistributeChannel};
use crate::wire::WireCard;

impl PassteamProvider {
    /// `distribute`: sends `card`'s install link by SMS or e-mail, with the texts configured in
    /// the Passteam cabinet. Never retried (it sends a message).
    pub async fn distribute(&self, card: &CardId, channel: DistributeChannel) -> Result<()> {
        let req = push::build_distribute_request(card, channel, &self.config);
        self.call(req, push::parse_distribute_response).await
    }

    /// `checkvariablevalue`: whether `value` is still free for unique variable `name` in
    /// `template` (the config's when `None`).
    pub async fn check_variable_value(
        &self,
        template: Option<&TemplateId>,
        name: &str,
        value: &str,
    ) -> Result<Uniqueness> {
        const OP: &str = "passteam.checkvariablevalue";
        let template = self.template_or_default(template, OP)?;
        let name = crate::config::normalize_variable(name);
        crate::config::check_variable_name(&name)?;
        let req = ops::build_checkvariable_request(&template, &name, value, OP, &self.config);
        self.call(req, ops::parse_checkvariable_response).await
    }

    /// Every card of `template` (the config's when `None`), page by page with `perPage = 50`:
    /// `ceil(n / 50)` requests for `n` cards. Stops at the first error, yielded last.
    pub fn all_cards(&self, template: Option<&TemplateId>) -> BoxStream<'_, Result<WireCard>> {
        const OP: &str = "passteam.cards";
        let template = match self.template_or_default(template, OP) {
            Ok(t) => t,
            Err(e) => return stream::iter([Err(e)]).boxed(),
        };
        stream::unfold(Some(1u64), move |page| {
            let template = template.clone();
            async move {
                let page = page?;
                let req = ops::build_page_request(&template, page, MAX_PER_PAGE, OP, &self.config);
                match self.call(req, ops::parse_page_response).await {
                    Ok(wire) => {
                        let next = ops::next_page(&wire, page);
                        Some((stream::iter(wire.cards.into_iter().map(Ok)).boxed(), next))
                    }
                    Err(e) => Some((stream::iter([Err(e)]).boxed(), None)),
                }
            }
        })
        .flatten()
        .boxed()
    }

    /// Sales and Products.
    pub fn commerce(&self) -> Commerce<'_> {
        Commerce { provider: self }
    }
}

/// Sales (`Покупки`) and Products (`Товары`) of the Passteam account; see [`crate::commerce`]
/// for the path assumption.
#[derive(Debug, Clone, Copy)]
pub struct Commerce<'a> {
    provider: &'a PassteamProvider,
}

impl Commerce<'_> {
    /// Get Sale by id.
    pub async fn get_sale(&self, id: &str) -> Result<Sale> {
        let req = commerce::build_get_sale_request(id, &self.provider.config)?;
        self.provider.call(req, commerce::parse_sale_response).await
    }

    /// Update Sale (`sale.id` names it); returns the sale as Passteam holds it.
    pub async fn update_sale(&self, sale: &Sale) -> Result<Sale> {
        let req = commerce::build_update_sale_request(sale, &self.provider.config)?;
        self.provider.call(req, commerce::parse_sale_response).await
    }

    /// Delete Sale.
    pub async fn delete_sale(&self, id: &str) -> Result<()> {
        let req = commerce::build_delete_sale_request(id, &self.provider.config)?;
        self.provider.call(req, commerce::parse_ok_response).await
    }

    /// CreateProduct in the configured company.
    pub async fn create_product(&self, name: &str, price: Decimal) -> Result<Product> {
        let req = commerce::build_create_product_request(name, price, &self.provider.config)?;
        self.provider
            .call(req, commerce::parse_product_response)
            .await
    }

    /// UpdateProduct.
    pub async fn update_product(&self, id: &str, name: &str, price: Decimal) -> Result<Product> {
        let req = commerce::build_update_product_request(id, name, price, &self.provider.config)?;
        self.provider
            .call(req, commerce::parse_product_response)
            .await
    }

    /// DeleteProduct.
    pub async fn delete_product(&self, id: &str) -> Result<()> {
        let req = commerce::build_delete_product_request(id, &self.provider.config)?;
        self.provider.call(req, commerce::parse_ok_response).await
    }

    /// Products, `page` from 1.
    pub async fn list_products(&self, page: u64, per_page: u32) -> Result<ProductPage> {
        let req = commerce::build_list_products_request(page, per_page, &self.provider.config)?;
        self.provider
            .call(req, commerce::parse_products_response)
            .await
    }
}
