//! One function per command: parse arguments into domain inputs, call the provider, return JSON.

use std::str::FromStr;

use serde_json::{Value, json};
use walletport::op;
use walletport::{
    BalanceUpdate, Campaign, CampaignId, Channel, CreateCampaign, CreateTemplate, Credit,
    CreditBalance, Customer, CustomerId, CustomerKey, CustomerRecord, Decimal, DeleteCustomer,
    Error, GetBalance, GetCustomer, GetTemplate, ListCustomers, ListTemplates, PageCursor, Percent,
    Phone, PhonePolicy, Provider, PushMessage, RedeemBalance, Redemption, Result, SegmentId,
    SendCampaign, SendPush, SetBalance, Template, TemplateId, TransactionId, UpdateTemplate,
    UpsertCustomer,
};

use crate::args::{
    BalanceCmd, BalanceValues, CampaignCmd, CustomerCmd, PushCmd, TemplateCmd, UpsertArgs,
};

/// What a command needs: the provider and how to read phones.
pub(crate) struct Context<'a> {
    pub(crate) provider: &'a dyn Provider,
    pub(crate) phones: PhonePolicy,
}

impl Context<'_> {
    /// A phone as typed, read by the configured policy.
    pub(crate) fn phone(&self, raw: &str) -> Result<Phone> {
        Phone::parse_with(raw, &self.phones)
    }

    /// The customer with cards, plus the balance when the provider returned none but can read it.
    async fn complete(&self, mut record: CustomerRecord) -> Result<CustomerRecord> {
        if record.balance.is_none() && self.provider.capability().balance_get {
            let balance = self
                .provider
                .balances()
                .get_balance(GetBalance {
                    customer: CustomerKey::Phone(record.customer.phone.clone()),
                })
                .await?;
            record.balance = Some(balance);
        }
        Ok(record)
    }
}

fn decimal(what: &str, raw: &str) -> Result<Decimal> {
    Decimal::from_str(raw.trim())
        .or_else(|_| Decimal::from_scientific(raw.trim()))
        .map_err(|_| Error::invalid_input(format!("{what} `{raw}` is not a decimal number")))
}

fn percent(what: &str, raw: &str) -> Result<Percent> {
    Percent::new(decimal(what, raw)?)
        .map_err(|e| Error::invalid_input(format!("{what}: {}", e.message())))
}

/// Points / bonus % / discount % as typed, each optional.
pub(crate) fn balance_update(
    points: Option<&str>,
    bonus: Option<&str>,
    discount: Option<&str>,
) -> Result<BalanceUpdate> {
    Ok(BalanceUpdate {
        points: points.map(|p| decimal("balance", p)).transpose()?,
        bonus_percent: bonus.map(|b| percent("bonus", b)).transpose()?,
        discount_percent: discount.map(|d| percent("discount", d)).transpose()?,
    })
}

impl BalanceValues {
    /// The typed values as the update `balance set` and `card update` send.
    pub(crate) fn update(&self) -> Result<BalanceUpdate> {
        balance_update(
            self.points.as_deref(),
            self.bonus.as_deref(),
            self.discount.as_deref(),
        )
    }
}

/// A result as the JSON the CLI prints.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::unexpected(format!("cannot print result: {e}")))
}

fn page_json<T: serde::Serialize>(
    page: &walletport::Page<T>,
    next_command: impl Fn(&PageCursor) -> String,
) -> Result<Value> {
    Ok(json!({
        "items": to_json(&page.items)?,
        "total": page.total,
        "next_page": page.next,
        "next_command": page.next.as_ref().map(next_command),
    }))
}

/// `walletport customer ...`
pub(crate) async fn customer(ctx: &Context<'_>, cmd: CustomerCmd) -> Result<Value> {
    let customers = ctx.provider.customers();
    match cmd {
        CustomerCmd::Upsert(args) => {
            let input = upsert_input(ctx, args)?;
            let record = customers.upsert_customer(input).await?;
            to_json(&ctx.complete(record).await?)
        }
        CustomerCmd::Get { phone } => {
            let record = customers
                .get_customer(GetCustomer::new(ctx.phone(&phone)?))
                .await?;
            to_json(&ctx.complete(record).await?)
        }
        CustomerCmd::List {
            from,
            to,
            installed,
            page,
            page_size,
        } => {
            let input = ListCustomers {
                registered_from: from,
                registered_to: to.and_then(|d| d.and_hms_opt(23, 59, 59)),
                installed,
                cursor: page.map(PageCursor),
                page_size,
            };
            let page = customers.list_customers(input).await?;
            page_json(&page, |c| format!("walletport customer list --page {c}"))
        }
        CustomerCmd::Delete { phone } => {
            let phone = ctx.phone(&phone)?;
            customers
                .delete_customer(DeleteCustomer {
                    key: CustomerKey::Phone(phone.clone()),
                })
                .await?;
            Ok(json!({ "deleted": phone }))
        }
    }
}

/// The customer and initial balance an `UpsertArgs` names (shared by `card issue`).
pub(crate) fn upsert_input(ctx: &Context<'_>, a: UpsertArgs) -> Result<UpsertCustomer> {
    let customer = Customer {
        id: a.id.map(CustomerId::new).transpose()?,
        name: a.name,
        surname: a.surname,
        middle_name: a.middlename,
        email: a.email,
        birthday: a.birthday,
        ..Customer::new(ctx.phone(&a.phone)?)
    };
    Ok(UpsertCustomer {
        customer,
        balance: balance_update(
            a.balance.as_deref(),
            a.bonus.as_deref(),
            a.discount.as_deref(),
        )?,
        template: a.template.map(TemplateId::new).transpose()?,
        likely_new: false,
    })
}

/// `walletport balance ...`
pub(crate) async fn balance(ctx: &Context<'_>, cmd: BalanceCmd) -> Result<Value> {
    let balances = ctx.provider.balances();
    match cmd {
        BalanceCmd::Get { phone } => {
            let customer = ctx.phone(&phone)?.into();
            to_json(&balances.get_balance(GetBalance { customer }).await?)
        }
        BalanceCmd::Set { phone, values } => {
            let update = values.update()?;
            let customer = ctx.phone(&phone)?.into();
            to_json(
                &balances
                    .set_balance(SetBalance { customer, update })
                    .await?,
            )
        }
        BalanceCmd::Credit {
            phone,
            amount,
            transaction,
            lifetime,
        } => {
            let lifetime = lifetime
                .map(|l| {
                    humantime::parse_duration(&l).map_err(|e| {
                        Error::invalid_input(format!("lifetime `{l}`: {e} (e.g. 30d, 12h)"))
                    })
                })
                .transpose()?;
            let credit = Credit::new(
                decimal("amount", &amount)?,
                TransactionId::new(transaction)?,
                lifetime,
            )?;
            let customer = ctx.phone(&phone)?.into();
            to_json(&balances.credit(CreditBalance { customer, credit }).await?)
        }
        BalanceCmd::Redeem {
            phone,
            amount,
            transaction,
        } => {
            let redemption = Redemption::new(
                decimal("amount", &amount)?,
                TransactionId::new(transaction)?,
            )?;
            let customer = ctx.phone(&phone)?.into();
            to_json(
                &balances
                    .redeem(RedeemBalance {
                        customer,
                        redemption,
                    })
                    .await?,
            )
        }
    }
}

/// `walletport push ...`
pub(crate) async fn push(ctx: &Context<'_>, cmd: PushCmd) -> Result<Value> {
    let PushCmd::Send {
        phone,
        message,
        channel,
    } = cmd;
    let input = SendPush {
        customer: ctx.phone(&phone)?.into(),
        message: PushMessage::new(message, Channel::from_str(&channel)?)?,
    };
    to_json(&ctx.provider.push().push(input).await?)
}

/// `walletport campaign ...`
pub(crate) async fn campaign(ctx: &Context<'_>, cmd: CampaignCmd) -> Result<Value> {
    let push = ctx.provider.push();
    match cmd {
        CampaignCmd::Create {
            message,
            channel,
            name,
            segment,
        } => {
            let campaign = Campaign {
                message,
                channel: Channel::from_str(&channel)?,
                name,
                segment: segment.map(SegmentId::new).transpose()?,
            };
            campaign.validate()?;
            to_json(&push.create_campaign(CreateCampaign { campaign }).await?)
        }
        CampaignCmd::Send { id } => {
            let id = CampaignId::new(id)?;
            to_json(&push.send_campaign(SendCampaign { id }).await?)
        }
    }
}

/// `walletport template ...`
pub(crate) async fn template(ctx: &Context<'_>, cmd: TemplateCmd) -> Result<Value> {
    let templates = ctx.provider.templates();
    match cmd {
        TemplateCmd::List { page } => {
            let page = templates
                .list_templates(ListTemplates {
                    cursor: page.map(PageCursor),
                    page_size: None,
                })
                .await?;
            page_json(&page, |c| format!("walletport template list --page {c}"))
        }
        TemplateCmd::Get { id } => {
            let id = TemplateId::new(id)?;
            to_json(&templates.get_template(GetTemplate { id }).await?)
        }
        TemplateCmd::Create { file } => {
            // Checked before the file is read: an unsupported vendor answers so whatever it holds.
            unsupported_unless(
                ctx,
                ctx.provider.capability().template_create,
                op::TEMPLATE_CREATE,
            )?;
            let template: Template = json_file(&file)?;
            to_json(
                &templates
                    .create_template(CreateTemplate { template })
                    .await?,
            )
        }
        TemplateCmd::Update { id, file } => {
            unsupported_unless(
                ctx,
                ctx.provider.capability().template_update,
                op::TEMPLATE_UPDATE,
            )?;
            let mut template: Template = json_file(&file)?;
            if let Some(id) = id {
                template.id = Some(TemplateId::new(id)?);
            }
            if template.id.is_none() {
                return Err(Error::invalid_input(
                    "name the template to update: --id, or `id` in the file",
                ));
            }
            to_json(
                &templates
                    .update_template(UpdateTemplate { template })
                    .await?,
            )
        }
    }
}

/// `Unsupported` from the configured provider when its capability flag for `operation` is off.
fn unsupported_unless(ctx: &Context<'_>, on: bool, operation: &'static str) -> Result<()> {
    if on {
        Ok(())
    } else {
        Err(Error::unsupported(operation)
            .with_provider(ctx.provider.info().name)
            .with_operation(operation))
    }
}

/// Reads a JSON file into `T`; an unreadable or malformed file is `InvalidInput` naming it.
pub(crate) fn json_file<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::invalid_input(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::invalid_input(format!("{} is not a valid JSON input: {e}", path.display()))
    })
}

/// `walletport providers [--check]`
pub(crate) async fn providers(configured: Option<&dyn Provider>) -> Result<Value> {
    let kinds: Vec<Value> = walletport::kind_capabilities()
        .into_iter()
        .map(|(kind, capability)| {
            json!({
                "kind": kind,
                "capability": capability,
            })
        })
        .collect();
    let mut out = json!({ "providers": kinds });
    if let Some(provider) = configured {
        // The same check `serve` runs at start: credentials, template and mapped variables.
        let check = provider.check().await?;
        out["check"] = json!({
            "kind": provider.info().name,
            "ok": true,
            "account": check.account,
            "checked": check.checked,
            "requests": check.requests,
            "balance_fields": provider.balance_fields().held(),
        });
    }
    Ok(out)
}
