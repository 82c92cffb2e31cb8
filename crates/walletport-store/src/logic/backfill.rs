//! Reading a v0.1 ledger for the conversion on open ([`crate::ledger::backfill`]), once for
//! both backends; each backend's `backfill` module keeps how it pages, locks and writes.

use walletport_core::Result;

use crate::codec::parse_decimal;
use crate::ledger::EntryKind;
use crate::ledger::backfill::OldRow;

/// A v0.1 `ledger_entries` row as both backends read it: text and integers (PostgreSQL selects
/// its `NUMERIC` amount as text).
#[derive(sqlx::FromRow)]
pub(crate) struct OldEntry {
    id: i64,
    transaction_id: Option<String>,
    kind: String,
    amount: String,
    at: i64,
    expires_at: Option<i64>,
}

impl OldEntry {
    /// The row the conversion takes.
    pub(crate) fn into_old(self) -> Result<OldRow> {
        Ok(OldRow {
            id: self.id,
            transaction_id: self.transaction_id,
            kind: EntryKind::parse(&self.kind)?,
            amount: parse_decimal(&self.amount)?,
            at: self.at,
            expires_at: self.expires_at,
        })
    }
}

/// Decodes a customer's v0.1 rows, in id order as read.
pub(crate) fn old_rows(rows: Vec<OldEntry>) -> Result<Vec<OldRow>> {
    rows.into_iter().map(OldEntry::into_old).collect()
}
