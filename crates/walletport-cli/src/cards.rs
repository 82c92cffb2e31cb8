//! `walletport card ...`: cards at the vendor (issue, read, update, status) and Skycore's
//! issuance links, which only the Skycore adapter offers.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use walletport::skycore::{
    IssuanceLink, IssuanceLinkSpec, SkycoreProvider, mapping::op as link_op,
};
use walletport::{
    CardId, CardKey, CardStatus, Error, Fields, GetCard, IssueCard, LinkDelivery, ProviderConfig,
    Result, SendInstallLink, SetCardStatus, UpdateCard,
};

use crate::args::{BalanceValues, UpsertArgs};
use crate::commands::{Context, json_file, to_json, upsert_input};

/// `walletport card ...`
#[derive(Debug, Subcommand)]
pub(crate) enum CardCmd {
    /// Issue a card for a customer; prints it with its install links.
    Issue(IssueArgs),
    /// Show a card as the vendor holds it.
    Get(CardKeyArgs),
    /// Change a card's fields or balance values; the vendor updates the installed pass.
    Update(UpdateArgs),
    /// Change a card's status (void, expire, redeem, or reactivate with `active`).
    Status {
        /// Which card.
        #[command(flatten)]
        key: CardKeyArgs,
        /// The new status.
        #[arg(long, value_parser = ["active", "voided", "expired", "redeemed"])]
        status: String,
    },
    /// Have the vendor send the card's install link (Passquare `sms`, Passteam `distribute`).
    SendLink {
        /// Which card.
        #[command(flatten)]
        key: CardKeyArgs,
        /// How: by SMS to the card's phone or by e-mail to its address.
        #[arg(long, value_parser = ["sms", "email"])]
        via: String,
        /// The SMS text, with `%link%` where the link goes (the vendor's default otherwise).
        #[arg(long)]
        text: Option<String>,
    },
    /// Skycore issuance links: URLs where customers generate their own pass.
    #[command(subcommand)]
    Link(LinkCmd),
}

/// Which card: exactly one of phone, printed number or vendor card id.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct CardKeyArgs {
    /// The card of the customer with this phone.
    #[arg(long)]
    phone: Option<String>,
    /// The number printed on the card.
    #[arg(long)]
    number: Option<String>,
    /// The vendor's card id.
    #[arg(long = "card-id")]
    card_id: Option<String>,
}

/// `card issue`: the customer as `customer upsert` takes it, plus extra fields.
#[derive(Debug, Args)]
pub(crate) struct IssueArgs {
    #[command(flatten)]
    customer: UpsertArgs,
    /// Extra card field, `NAME=VALUE` (repeatable).
    #[arg(long = "field")]
    fields: Vec<String>,
}

/// `card update`: fields, balance values and a notification text.
#[derive(Debug, Args)]
// The balance values' help says where they show: on the card.
#[command(
    mut_arg("points", |a| a.help("Points shown on the card")),
    mut_arg("bonus", |a| a.help("Bonus percentage shown on the card")),
    mut_arg("discount", |a| a.help("Discount percentage shown on the card"))
)]
pub(crate) struct UpdateArgs {
    /// Which card.
    #[command(flatten)]
    key: CardKeyArgs,
    /// Card field to set, `NAME=VALUE` (repeatable).
    #[arg(long = "field")]
    fields: Vec<String>,
    /// Points, bonus % and discount % shown on the card.
    #[command(flatten)]
    values: BalanceValues,
    /// Notification shown with the update, where the vendor has one.
    #[arg(long)]
    notification: Option<String>,
}

/// `walletport card link ...` (Skycore only).
#[derive(Debug, Subcommand)]
pub(crate) enum LinkCmd {
    /// Create an issuance link from a JSON file; prints its id and preview URL.
    Create {
        /// The link as JSON: name, template_id, variables, and optionally expires,
        /// generation_limit, status, update_pass_data, encryption, protection, layout.
        #[arg(long)]
        file: PathBuf,
    },
    /// Change issuance link `--id` to the state in a JSON file.
    Update {
        /// The link's id (`id` of `card link create`).
        #[arg(long)]
        id: String,
        /// The link as JSON (as for `create`).
        #[arg(long)]
        file: PathBuf,
    },
}

fn card_key(ctx: &Context<'_>, key: CardKeyArgs) -> Result<CardKey> {
    match (key.phone, key.number, key.card_id) {
        (Some(phone), _, _) => Ok(CardKey::Phone(ctx.phone(&phone)?)),
        (_, Some(number), _) if !number.trim().is_empty() => {
            Ok(CardKey::Number(number.trim().to_owned()))
        }
        (_, _, Some(id)) => Ok(CardKey::Id(CardId::new(id)?)),
        _ => Err(Error::invalid_input(
            "name the card: --phone, --number or --card-id",
        )),
    }
}

/// `NAME=VALUE` pairs as card fields; a pair without `=` or with an empty name is refused.
fn fields(pairs: Vec<String>) -> Result<Fields> {
    let mut out = Fields::new();
    for pair in pairs {
        match pair.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                out.insert(name.trim().to_owned(), value.to_owned());
            }
            _ => {
                return Err(Error::invalid_input(format!(
                    "field `{pair}` is not NAME=VALUE"
                )));
            }
        }
    }
    Ok(out)
}

/// `walletport card issue|get|update|status` (links go through [`link`]).
pub(crate) async fn card(ctx: &Context<'_>, cmd: CardCmd) -> Result<Value> {
    let cards = ctx.provider.cards();
    match cmd {
        CardCmd::Issue(args) => {
            let fields = fields(args.fields)?;
            let upsert = upsert_input(ctx, args.customer)?;
            let input = IssueCard {
                customer: upsert.customer,
                template: upsert.template,
                balance: upsert.balance,
                fields,
            };
            to_json(&cards.issue_card(input).await?)
        }
        CardCmd::Get(key) => {
            let card = card_key(ctx, key)?;
            to_json(&cards.get_card(GetCard { card }).await?)
        }
        CardCmd::Update(args) => {
            let input = UpdateCard {
                fields: fields(args.fields)?,
                balance: args.values.update()?,
                notification: args.notification,
                card: card_key(ctx, args.key)?,
            };
            to_json(&cards.update_card(input).await?)
        }
        CardCmd::Status { key, status } => {
            let input = SetCardStatus {
                status: CardStatus::from_str(&status)?,
                card: card_key(ctx, key)?,
            };
            to_json(&cards.set_card_status(input).await?)
        }
        CardCmd::SendLink { key, via, text } => {
            let delivery = match (via.as_str(), text) {
                ("sms", text) => LinkDelivery::Sms { phone: None, text },
                ("email", None) => LinkDelivery::Email { email: None },
                _ => return Err(Error::invalid_input("--text is for SMS only")),
            };
            let card = card_key(ctx, key)?;
            cards
                .send_install_link(SendInstallLink { card, delivery })
                .await?;
            Ok(serde_json::json!({ "sent": true, "via": via }))
        }
        CardCmd::Link(_) => Err(Error::unexpected("card links are run by `link`")),
    }
}

/// `walletport card link create|update`: straight to the Skycore adapter, the only vendor with
/// issuance links, its requests counted in `limiters`; any other provider answers `Unsupported`
/// before reading the file.
pub(crate) async fn link(
    config: &ProviderConfig,
    limiters: &dyn walletport::LimiterFactory,
    cmd: LinkCmd,
) -> Result<Value> {
    let operation = match cmd {
        LinkCmd::Create { .. } => link_op::ISSUANCE_LINK_CREATE,
        LinkCmd::Update { .. } => link_op::ISSUANCE_LINK_UPDATE,
    };
    let Some(skycore) = walletport::skycore_adapter(config, limiters)? else {
        return Err(Error::unsupported(operation)
            .with_provider(config.kind())
            .with_operation(operation));
    };
    let info = match cmd {
        LinkCmd::Create { file } => {
            let spec = read_link(&file, &skycore)?;
            skycore.create_issuance_link(&spec).await?
        }
        LinkCmd::Update { id, file } => {
            let spec = read_link(&file, &skycore)?;
            skycore.update_issuance_link(id.trim(), &spec).await?
        }
    };
    Ok(json!({ "id": info.id, "preview_url": info.preview_url }))
}

fn read_link(path: &Path, skycore: &SkycoreProvider) -> Result<IssuanceLink> {
    let spec: IssuanceLinkSpec = json_file(path)?;
    Ok(spec.into_link(skycore.config()))
}
