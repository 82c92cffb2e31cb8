//! The command line, as clap derives it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// walletport: one API for Apple/Google Wallet loyalty cards over several vendors.
///
/// Every command prints JSON on stdout; errors are JSON on stderr with a non-zero exit code.
#[derive(Debug, Parser)]
#[command(name = "walletport", version, about, long_about = None)]
pub(crate) struct Cli {
    /// Config file (TOML). Default: `walletport.toml` if present, else built-in defaults.
    /// Every key can be overridden by `WALLETPORT_<SECTION>__<KEY>` environment variables.
    #[arg(long, global = true, env = "WALLETPORT_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the compiled provider kinds and their capabilities.
    Providers {
        /// Also check the configured provider's credentials (its `status` call).
        #[arg(long)]
        check: bool,
    },
    /// Customers.
    #[command(subcommand)]
    Customer(CustomerCmd),
    /// Balances.
    #[command(subcommand)]
    Balance(BalanceCmd),
    /// Messages to one customer.
    #[command(subcommand)]
    Push(PushCmd),
    /// Campaigns to everyone or a segment.
    #[command(subcommand)]
    Campaign(CampaignCmd),
    /// Wallet cards at the vendor: issue, read, update, status; Skycore issuance links.
    #[command(subcommand)]
    Card(crate::cards::CardCmd),
    /// Card design templates.
    #[command(subcommand)]
    Template(TemplateCmd),
    /// Run the gateway (hooks, REST API, outbox sync) until SIGINT/SIGTERM. With no config at
    /// all: 127.0.0.1:8080, SQLite `walletport.db`, the `memory` provider.
    Serve {
        /// Listen address (overrides `server.listen`).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Bulk-import customers from a CSV file into the store; the outbox syncs them out.
    Sync {
        /// CSV with a header: phone, name, surname, middle_name, email, birthday, balance, bonus,
        /// discount (only `phone` is required).
        #[arg(long)]
        csv: PathBuf,
        /// Also deliver the outbox to the vendor now (within its quota) and wait until done.
        #[arg(long)]
        deliver: bool,
    },
    /// Queue the full current state of every customer (or one) for the vendor, e.g. after
    /// pointing the gateway at another vendor; running it twice queues nothing twice.
    Resync {
        /// Only this customer.
        #[arg(long)]
        phone: Option<String>,
        /// Also deliver the outbox to the vendor now (within its quota) and wait until done.
        #[arg(long)]
        deliver: bool,
    },
    /// The sync outbox: waiting items and dead letters.
    #[command(subcommand)]
    Outbox(OutboxCmd),
    /// Run a vendor emulator (for demos and manual testing) until Ctrl-C.
    Sandbox {
        /// Which vendor to emulate.
        #[arg(value_enum)]
        vendor: SandboxVendor,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: std::net::SocketAddr,
        /// Emulator settings (TOML, or JSON by `.json` extension): keys, quotas, faults.
        #[arg(long)]
        settings: Option<PathBuf>,
    },
}

/// The vendors the sandbox can emulate.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum SandboxVendor {
    /// Passquare.
    Passquare,
    /// Passteam.
    Passteam,
    /// Skycore.
    Skycore,
}

impl SandboxVendor {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Passquare => "passquare",
            Self::Passteam => "passteam",
            Self::Skycore => "skycore",
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum CustomerCmd {
    /// Create or update a customer by phone; prints the customer with cards and balance.
    Upsert(UpsertArgs),
    /// Show a customer with cards and balance.
    Get {
        /// Phone (E.164, or national with `phone.default_region` configured).
        #[arg(long)]
        phone: String,
    },
    /// List customers, one page at a time.
    List {
        /// Registered on or after this day (YYYY-MM-DD).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Registered on or before this day (YYYY-MM-DD, inclusive).
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// Only customers with (true) or without (false) an installed card.
        #[arg(long)]
        installed: Option<bool>,
        /// The page to show: the `next_page` value of the previous listing.
        #[arg(long)]
        page: Option<String>,
        /// Page size wish (the provider may cap it).
        #[arg(long)]
        page_size: Option<u32>,
    },
    /// Delete a customer and their card.
    Delete {
        /// Phone.
        #[arg(long)]
        phone: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct UpsertArgs {
    /// Phone (E.164, or national with `phone.default_region` configured).
    #[arg(long)]
    pub(crate) phone: String,
    /// First name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Family name.
    #[arg(long)]
    pub(crate) surname: Option<String>,
    /// Middle name.
    #[arg(long)]
    pub(crate) middlename: Option<String>,
    /// E-mail.
    #[arg(long)]
    pub(crate) email: Option<String>,
    /// Birthday, YYYY-MM-DD.
    #[arg(long)]
    pub(crate) birthday: Option<chrono::NaiveDate>,
    /// Points balance to set.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) balance: Option<String>,
    /// Bonus percentage to set.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) bonus: Option<String>,
    /// Discount percentage to set.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) discount: Option<String>,
    /// The CRM's customer id.
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// Design template for a new card.
    #[arg(long)]
    pub(crate) template: Option<String>,
}

/// `--points`, `--bonus` and `--discount` as typed, each optional: the balance values that
/// `balance set` and `card update` both take.
#[derive(Debug, Args)]
pub(crate) struct BalanceValues {
    /// Points.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) points: Option<String>,
    /// Bonus percentage.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) bonus: Option<String>,
    /// Discount percentage.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) discount: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BalanceCmd {
    /// Points, bonus % and discount %.
    Get {
        /// Phone.
        #[arg(long)]
        phone: String,
    },
    /// Set points / bonus % / discount %.
    Set {
        /// Phone.
        #[arg(long)]
        phone: String,
        /// The values to set.
        #[command(flatten)]
        values: BalanceValues,
    },
    /// Credit points exactly once by transaction id.
    Credit {
        /// Phone.
        #[arg(long)]
        phone: String,
        /// Positive amount, e.g. 150.25.
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Transaction id: repeating it credits nothing more.
        #[arg(long)]
        transaction: String,
        /// Lifetime after which the credit burns, e.g. `30d`, `12h`, `86400s`.
        #[arg(long)]
        lifetime: Option<String>,
    },
    /// Redeem (spend) points exactly once by transaction id, soonest-burning points first.
    Redeem {
        /// Phone.
        #[arg(long)]
        phone: String,
        /// Positive amount, e.g. 100.
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Transaction id: repeating it redeems nothing more.
        #[arg(long, visible_alias = "transaction-id")]
        transaction: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PushCmd {
    /// Push one message to one customer.
    Send {
        /// Phone.
        #[arg(long)]
        phone: String,
        /// Text.
        #[arg(long)]
        message: String,
        /// wallet, webpush or telegram.
        #[arg(long, default_value = "wallet")]
        channel: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum CampaignCmd {
    /// Create a campaign (not yet sent); prints it with its id.
    Create {
        /// Text.
        #[arg(long)]
        message: String,
        /// wallet, webpush or telegram.
        #[arg(long, default_value = "wallet")]
        channel: String,
        /// Name for the overview.
        #[arg(long)]
        name: Option<String>,
        /// Segment id; everyone when absent.
        #[arg(long)]
        segment: Option<String>,
    },
    /// Send a created campaign.
    Send {
        /// Campaign id.
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TemplateCmd {
    /// List templates.
    List {
        /// The `next_page` value of the previous listing.
        #[arg(long)]
        page: Option<String>,
    },
    /// Show one template.
    Get {
        /// Template id.
        #[arg(long)]
        id: String,
    },
    /// Create a template from a JSON file (`name`, `layout`, `fields`, `settings`).
    Create {
        /// The template as JSON.
        #[arg(long)]
        file: PathBuf,
    },
    /// Replace a template with the design in a JSON file.
    Update {
        /// Template id (else the file's `id`).
        #[arg(long)]
        id: Option<String>,
        /// The template as JSON.
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum OutboxCmd {
    /// List waiting items, or dead letters with `--dead`.
    List {
        /// Show dead letters instead of waiting items.
        #[arg(long)]
        dead: bool,
        /// Items after this id.
        #[arg(long)]
        after: Option<i64>,
        /// Page size (1-1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Move a dead letter back into the outbox.
    Retry {
        /// The dead letter's id.
        id: String,
    },
}
