-- v0.2 ledger: materialised points per customer, expiring lots, an append-only history.
-- The v0.1 rows are copied into `ledger_entries` (a `debit` becomes a `redemption`) with
-- `balance_after` unset; the store converts each customer listed in `ledger_backfill` in Rust on
-- open (exact decimals; see src/ledger/backfill.rs) and removes it from the list.

ALTER TABLE customers ADD COLUMN points TEXT NOT NULL DEFAULT '0';

CREATE TABLE ledger_entries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id    TEXT    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    transaction_id TEXT,
    kind           TEXT    NOT NULL
        CHECK (kind IN ('credit', 'redemption', 'expiry', 'reversal', 'adjustment')),
    amount         TEXT    NOT NULL,
    balance_after  TEXT    NOT NULL,
    at             INTEGER NOT NULL,
    expires_at     INTEGER
);
CREATE INDEX ledger_entries_customer ON ledger_entries (customer_id, id);
CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id);

-- One lot per credit or upward adjustment: what is left of it and when that stops counting
-- (`burns_at`; 9223372036854775807 = never). Open while `remaining` > 0 (`open` = 1).
CREATE TABLE lots (
    entry_id       INTEGER PRIMARY KEY REFERENCES ledger_entries (id) ON DELETE CASCADE,
    customer_id    TEXT    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    transaction_id TEXT    UNIQUE,
    amount         TEXT    NOT NULL,
    remaining      TEXT    NOT NULL,
    expired        TEXT    NOT NULL DEFAULT '0',
    burns_at       INTEGER NOT NULL,
    open           INTEGER NOT NULL CHECK (open IN (0, 1)),
    reversed       INTEGER NOT NULL DEFAULT 0 CHECK (reversed IN (0, 1))
);
CREATE INDEX lots_spending ON lots (customer_id, burns_at, entry_id) WHERE open = 1;
CREATE INDEX lots_due ON lots (burns_at) WHERE open = 1;

INSERT INTO ledger_entries (id, customer_id, transaction_id, kind, amount, balance_after, at, expires_at)
SELECT id, customer_id, transaction_id,
       CASE kind WHEN 'debit' THEN 'redemption' ELSE kind END,
       amount, '0', credited_at, expires_at
FROM ledger ORDER BY id;

CREATE TABLE ledger_backfill (customer_id TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT INTO ledger_backfill (customer_id) SELECT DISTINCT customer_id FROM ledger;

UPDATE processed_transactions SET kind = 'redemption' WHERE kind = 'debit';

DROP TABLE ledger;
