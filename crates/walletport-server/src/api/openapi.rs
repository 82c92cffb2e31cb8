//! The OpenAPI description of the REST API, served at `/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::views::*;

/// The REST API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "walletport gateway", description = "One API for wallet loyalty cards over Passquare, Passteam and Skycore: customers, an exactly-once ledger (credits, redemptions, reversals, expiry and its history), cards, pushes, campaigns, templates and the sync outbox."),
    paths(
        super::customers::list, super::customers::upsert, super::customers::get,
        super::customers::balance, super::customers::percentages, super::ledger::credit,
        super::ledger::redeem, super::ledger::reverse, super::ledger::set_balance,
        super::ledger::history,
        super::cards::issue, super::cards::get, super::cards::update, super::cards::status,
        super::cards::send_install_link, super::links::create, super::links::update,
        super::vendor::push, super::vendor::create_campaign, super::vendor::send_campaign,
        super::vendor::list_templates, super::vendor::get_template,
        super::templates::create, super::templates::update,
        super::outbox::list, super::outbox::retry,
        super::system::healthz, super::system::metrics,
    ),
    components(schemas(
        CustomerInput, CustomerView, CardView, LinksView, BalanceView, CustomerDetail, UpsertResult,
        CustomerPageView, CreditInput, RedemptionInput, BalanceInput, LedgerResult,
        LedgerEntryView, LedgerPageView, PercentagesInput, PushInput, PushView,
        CampaignInput, CampaignView, TemplateSummaryView, TemplatePageView, OutboxItemView,
        OutboxPageView, RetryResult, Health, ErrorBody, super::cards::CardIssueInput,
        super::cards::CardUpdateInput, super::cards::CardStatusInput,
        super::cards::InstallLinkInput,
    )),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme =
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        match openapi.components.as_mut() {
            Some(components) => components.add_security_scheme("bearer", scheme),
            None => {
                openapi.components = Some(
                    utoipa::openapi::ComponentsBuilder::new()
                        .security_scheme("bearer", scheme)
                        .build(),
                );
            }
        }
    }
}

/// `GET /openapi.json`.
pub(crate) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
