//! The customer, card and inbound-event statements: the SQL text each backend supplies
//! ([`CustomerStatements`]) and the one way the shared logic binds and decodes them
//! ([`CustomerSql`]'s provided methods).

use rust_decimal::Decimal;
use walletport_core::{CustomerId, CustomerKey, Error, Result};

use super::run::{Runner, optional, params, read_all, read_optional};
use crate::codec::{RawCard, RawCustomer, fields_to_json, parse_decimal, status_str, to_ns};
use crate::model::{SearchPlan, StoredCard, StoredCustomer};

/// One backend's SQL text for the customer statements. Parameters are numbered as the
/// comments say; PostgreSQL casts the text it stores natively (`$5::date`, `$6::jsonb`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CustomerStatements {
    /// A customer by phone (1).
    pub(crate) by_phone: &'static str,
    /// A customer by CRM id (1).
    pub(crate) by_id: &'static str,
    /// The customer of the oldest card with this vendor id or number (1).
    pub(crate) by_card: &'static str,
    /// [`by_phone`](Self::by_phone), locking the row where the backend has row locks.
    pub(crate) lock_by_phone: &'static str,
    /// [`by_id`](Self::by_id), locking the row where the backend has row locks.
    pub(crate) lock_by_id: &'static str,
    /// Customers after `seq` (1), in `seq` order, at most (2).
    pub(crate) after: &'static str,
    /// Phones in `[prefix (1), below (2))` after the phone (3), in phone order, at most (4).
    pub(crate) phone_prefix: &'static str,
    /// "name surname" or "surname name" starting with (1), after `seq` (2), at most (3).
    pub(crate) name_prefix: &'static str,
    /// Inserts name, surname, middle name, email, birthday, extra, provider ids, referral
    /// code, inviter, now (1-10; `created_at` too), id (11), phone (12); a taken phone inserts
    /// nothing.
    pub(crate) insert: &'static str,
    /// Updates the fields of [`insert`](Self::insert) of the customer with id (11) and phone (12).
    pub(crate) update: &'static str,
    /// Sets bonus (1) and discount (2) percent, `updated_at` (3), of customer (4).
    pub(crate) set_percentages: &'static str,
    /// The remaining points of customer (1)'s open lots burning in `((2), (3)]`, as text: one
    /// row with the sum (PostgreSQL) or one row per lot (SQLite), summed here either way.
    pub(crate) expiring: &'static str,
    /// The oldest card of provider (1) with vendor id (2), or without one, number (3).
    pub(crate) find_card: &'static str,
    /// Inserts customer id, provider, vendor id, number, track, links, apple, google, status,
    /// now (1-10; `created_at` too).
    pub(crate) insert_card: &'static str,
    /// Updates the fields of [`insert_card`](Self::insert_card) of the card with `seq` (11).
    pub(crate) update_card: &'static str,
    /// Deletes the card with `seq` (1).
    pub(crate) delete_card: &'static str,
    /// Customer (1)'s cards, oldest first.
    pub(crate) cards_of: &'static str,
    /// Records event id (2) of provider (1) at (3); a known one inserts nothing.
    pub(crate) insert_event: &'static str,
}

/// Which customer a write reads (and, with row locks, locks).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lookup<'a> {
    /// By phone (E.164 text).
    Phone(&'a str),
    /// By CRM id.
    Id(&'a str),
}

/// A customer to insert (`created`) or update, with the id it has or gets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CustomerWrite<'a> {
    /// The fields to store.
    pub(crate) customer: &'a walletport_core::Customer,
    /// The CRM id.
    pub(crate) id: &'a CustomerId,
    /// Insert (true) or update.
    pub(crate) created: bool,
    /// `updated_at` (and `created_at` of an insert), ns.
    pub(crate) now: i64,
}

/// Which card to find: the provider's card with this vendor id, or (without one) this number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CardKey<'a> {
    /// The issuing provider.
    pub(crate) provider: &'a str,
    /// The vendor's id of the card.
    pub(crate) vendor_id: Option<&'a str>,
    /// The card number, used when there is no vendor id.
    pub(crate) number: Option<&'a str>,
}

/// The customer and card statements of one database: a backend supplies their text and how it
/// records an event outside a transaction; the rest is provided here, once.
pub(crate) trait CustomerSql: Runner {
    /// The backend's SQL text.
    const CUSTOMERS: CustomerStatements;

    /// Records inbound event `id` on its own (SQLite: at the write gate); true the first time.
    fn record_event_alone(
        &self,
        provider: &str,
        id: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The customer by phone, CRM id or a card's vendor id or number (oldest card first).
    fn get_customer(
        &self,
        key: &CustomerKey,
    ) -> impl Future<Output = Result<Option<RawCustomer>>> + Send {
        let s = Self::CUSTOMERS;
        let (sql, arg) = match key {
            CustomerKey::Phone(p) => (s.by_phone, p.as_str()),
            CustomerKey::Id(id) => (s.by_id, id.as_str()),
            CustomerKey::Card(card) => (s.by_card, card.as_str()),
        };
        async move { read_optional(self, "customer.get", sql, params![arg]).await }
    }

    /// The customer a write is about, read inside its transaction; PostgreSQL locks the row
    /// (`FOR NO KEY UPDATE`), SQLite's write transaction excludes other writers already.
    fn locked_customer(
        conn: &mut Self::Conn,
        by: Lookup<'_>,
    ) -> impl Future<Output = Result<Option<RawCustomer>>> + Send {
        let (sql, arg) = match by {
            Lookup::Phone(p) => (Self::CUSTOMERS.lock_by_phone, p),
            Lookup::Id(id) => (Self::CUSTOMERS.lock_by_id, id),
        };
        async move { optional::<Self, _>(conn, "customer.get", sql, params![arg]).await }
    }

    /// Inserts or updates the customer; false when the insert found the phone taken by a
    /// concurrent create (PostgreSQL; SQLite never races). Database errors are returned
    /// unmapped for the upsert to name.
    fn write_customer(
        conn: &mut Self::Conn,
        w: &CustomerWrite<'_>,
    ) -> impl Future<Output = Result<bool>> + Send {
        async move {
            let c = w.customer;
            let s = Self::CUSTOMERS;
            let sql = if w.created { s.insert } else { s.update };
            let birthday = c.birthday.map(|d| d.format("%Y-%m-%d").to_string());
            let extra = fields_to_json(&c.extra).to_string();
            let ids = fields_to_json(&c.provider_ids).to_string();
            let inviter = c.invited_by.as_ref().map(|p| p.as_str());
            let params = params![
                &c.name,
                &c.surname,
                &c.middle_name,
                &c.email,
                birthday,
                extra,
                ids,
                &c.referral_code,
                inviter,
                w.now,
                w.id.as_str(),
                c.phone.as_str(),
            ];
            Ok(Self::execute(conn, "customer.upsert", sql, params).await? > 0)
        }
    }

    /// Stores `c`'s percentages, `updated_at` `now`.
    fn write_percentages(
        conn: &mut Self::Conn,
        c: &StoredCustomer,
        now: i64,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            let bonus = c.bonus_percent.value().to_string();
            let discount = c.discount_percent.value().to_string();
            let (sql, params) = (
                Self::CUSTOMERS.set_percentages,
                params![bonus, discount, now, c.id.as_str()],
            );
            Self::execute(conn, "customer.set_percentages", sql, params).await?;
            Ok(())
        }
    }

    /// At most `limit` customers after `seq` `after`, in `seq` order.
    fn customers_after(
        &self,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RawCustomer>>> + Send {
        let sql = Self::CUSTOMERS.after;
        async move { read_all(self, "customer.list", sql, params![after, limit]).await }
    }

    /// At most `limit` customers matching the plan, in the plan's order (phone, or `seq`).
    fn search_customers(
        &self,
        plan: &SearchPlan,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RawCustomer>>> + Send {
        let s = Self::CUSTOMERS;
        async move {
            const OP: &str = "customer.search";
            match plan {
                SearchPlan::Phone { prefix, after } => {
                    let below = format!("{prefix}:");
                    let params = params![prefix, below, after, limit];
                    read_all(self, OP, s.phone_prefix, params).await
                }
                SearchPlan::Name { text, after } => {
                    read_all(self, OP, s.name_prefix, params![text, *after, limit]).await
                }
            }
        }
    }

    /// The points of customer `id`'s open lots burning in `(now, until]`, summed exactly.
    fn expiring_points(
        &self,
        id: &CustomerId,
        now: i64,
        until: i64,
    ) -> impl Future<Output = Result<Decimal>> + Send {
        let sql = Self::CUSTOMERS.expiring;
        async move {
            let params = params![id.as_str(), now, until];
            let rows: Vec<(String,)> =
                read_all(self, "ledger.expiring_points", sql, params).await?;
            rows.iter().try_fold(Decimal::ZERO, |sum, (points,)| {
                sum.checked_add(parse_decimal(points)?)
                    .ok_or_else(|| Error::unexpected("expiring points overflow the decimal range"))
            })
        }
    }

    /// The card `key` names, oldest first.
    fn find_card(
        conn: &mut Self::Conn,
        key: &CardKey<'_>,
    ) -> impl Future<Output = Result<Option<RawCard>>> + Send {
        async move {
            let (sql, params) = (
                Self::CUSTOMERS.find_card,
                params![key.provider, key.vendor_id, key.number],
            );
            optional::<Self, _>(conn, "card.get", sql, params).await
        }
    }

    /// Inserts the card (`seq` `None`) or updates the row `seq`; its `updated_at` is the write's
    /// instant (merging and patching move it only when something changed).
    fn write_card(
        conn: &mut Self::Conn,
        seq: Option<i64>,
        card: &StoredCard,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            let s = Self::CUSTOMERS;
            let links = serde_json::to_string(&card.links)?;
            let mut params = params![
                card.customer_id.as_str(),
                &card.provider,
                card.vendor_card_id.as_ref().map(|c| c.as_str()),
                &card.number,
                &card.track,
                links,
                card.installed.apple,
                card.installed.google,
                status_str(card.status),
                to_ns(card.updated_at)?,
            ]
            .to_vec();
            // PostgreSQL refuses a value the insert has no place for, so `seq` goes only with
            // the update.
            let sql = match seq {
                Some(seq) => {
                    params.push(seq.into());
                    s.update_card
                }
                None => s.insert_card,
            };
            Self::execute(conn, "card.write", sql, &params).await?;
            Ok(())
        }
    }

    /// Deletes the card row `seq`.
    fn delete_card(conn: &mut Self::Conn, seq: i64) -> impl Future<Output = Result<()>> + Send {
        async move {
            let sql = Self::CUSTOMERS.delete_card;
            Self::execute(conn, "card.update", sql, params![seq]).await?;
            Ok(())
        }
    }

    /// The customer's cards, oldest first.
    fn cards_of(&self, customer: &CustomerId) -> impl Future<Output = Result<Vec<RawCard>>> + Send {
        let sql = Self::CUSTOMERS.cards_of;
        async move { read_all(self, "card.list", sql, params![customer.as_str()]).await }
    }

    /// Records inbound event `id` inside the caller's transaction; true the first time only.
    fn insert_event(
        conn: &mut Self::Conn,
        provider: &str,
        id: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool>> + Send {
        async move {
            let (sql, params) = (Self::CUSTOMERS.insert_event, params![provider, id, now]);
            Ok(Self::execute(conn, "event.record", sql, params).await? == 1)
        }
    }
}
