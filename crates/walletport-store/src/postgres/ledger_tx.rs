//! The ledger engine's statements on PostgreSQL ([`LedgerTxSql`]), run by the shared
//! [`SqlLedgerTx`](crate::logic::ledger_tx::SqlLedgerTx) inside a transaction: `lock_points`
//! takes the customer's row lock (`FOR NO KEY UPDATE`), which every ledger write, the expiry task
//! and the credit batches take too, so one account changes in one transaction at a time while
//! other customers go on in parallel. Amounts are `NUMERIC`, cast from and to text here.

use sqlx::postgres::PgPool;

use crate::logic::ledger_tx::{LedgerTxSql, LedgerTxStatements};

/// A lots row as [`RawLot`](crate::logic::ledger_tx::RawLot) decodes it, for customer `$1`.
macro_rules! lot_select {
    ($rest:literal) => {
        concat!(
            "SELECT entry_id, transaction_id, amount::text AS amount, \
             remaining::text AS remaining, expired::text AS expired, burns_at, reversed \
             FROM lots WHERE customer_id = $1 ",
            $rest
        )
    };
}

impl LedgerTxSql for PgPool {
    const LEDGER_TX: LedgerTxStatements = LedgerTxStatements {
        lock_points: "SELECT points::text FROM customers WHERE id = $1 FOR NO KEY UPDATE",
        account: None,
        set_points: "UPDATE customers SET points = $2::numeric WHERE id = $1",
        prior: "SELECT customer_id, kind, amount::text FROM processed_transactions \
                WHERE transaction_id = $1",
        claim: "INSERT INTO processed_transactions \
                (transaction_id, customer_id, kind, amount, processed_at) \
                VALUES ($1, $2, $3, $4::numeric, $5) ON CONFLICT (transaction_id) DO NOTHING",
        open_lots: [
            lot_select!("AND open ORDER BY burns_at, entry_id LIMIT $2"),
            lot_select!(
                "AND open AND (burns_at, entry_id) > ($3, $4) ORDER BY burns_at, entry_id LIMIT $2"
            ),
            lot_select!("AND open AND burns_at <= $3 ORDER BY burns_at, entry_id LIMIT $2"),
            lot_select!(
                "AND open AND (burns_at, entry_id) > ($3, $4) AND burns_at <= $5 \
                 ORDER BY burns_at, entry_id LIMIT $2"
            ),
        ],
        credit_lot: lot_select!("AND transaction_id = $2"),
        insert_entry: "INSERT INTO ledger_entries \
                       (customer_id, transaction_id, kind, amount, balance_after, at, expires_at) \
                       VALUES ($1, $2, $3, $4::numeric, $5::numeric, $6, $7) RETURNING id",
        insert_lot: "INSERT INTO lots (entry_id, customer_id, transaction_id, amount, remaining, \
                     expired, burns_at, open) \
                     VALUES ($1, $2, $3, $4::numeric, $5::numeric, $6::numeric, $7, $8)",
        update_lot: "UPDATE lots SET remaining = $2::numeric, expired = $3::numeric, \
                     reversed = $4, open = $5 WHERE entry_id = $1",
    };
}
