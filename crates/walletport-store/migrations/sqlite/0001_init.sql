-- walletport store schema (SQLite). Timestamps: INTEGER nanoseconds since the Unix epoch.
-- Decimals: TEXT in canonical form (exact; summed in Rust). JSON: TEXT.

CREATE TABLE customers (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT    NOT NULL UNIQUE,
    phone            TEXT    NOT NULL UNIQUE,
    name             TEXT,
    surname          TEXT,
    middle_name      TEXT,
    email            TEXT,
    birthday         TEXT,
    extra            TEXT    NOT NULL DEFAULT '{}',
    provider_ids     TEXT    NOT NULL DEFAULT '{}',
    referral_code    TEXT,
    invited_by       TEXT,
    bonus_percent    TEXT    NOT NULL DEFAULT '0',
    discount_percent TEXT    NOT NULL DEFAULT '0',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE cards (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id      TEXT    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    provider         TEXT    NOT NULL,
    vendor_card_id   TEXT,
    number           TEXT,
    track            TEXT,
    links            TEXT    NOT NULL DEFAULT '{}',
    installed_apple  INTEGER NOT NULL DEFAULT 0,
    installed_google INTEGER NOT NULL DEFAULT 0,
    status           TEXT    NOT NULL DEFAULT 'active',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CHECK (vendor_card_id IS NOT NULL OR number IS NOT NULL)
);
CREATE UNIQUE INDEX cards_provider_vendor_id ON cards (provider, vendor_card_id);
CREATE UNIQUE INDEX cards_provider_number ON cards (provider, number);
CREATE INDEX cards_customer ON cards (customer_id);
CREATE INDEX cards_vendor_id ON cards (vendor_card_id);
CREATE INDEX cards_number ON cards (number);

CREATE TABLE ledger (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id    TEXT    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    transaction_id TEXT,
    kind           TEXT    NOT NULL CHECK (kind IN ('credit', 'debit', 'adjustment')),
    amount         TEXT    NOT NULL,
    credited_at    INTEGER NOT NULL,
    expires_at     INTEGER
);
CREATE INDEX ledger_customer ON ledger (customer_id, expires_at);
CREATE INDEX ledger_expiring ON ledger (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE processed_transactions (
    transaction_id TEXT    PRIMARY KEY,
    customer_id    TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    amount         TEXT    NOT NULL,
    processed_at   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE inbound_events (
    provider    TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (provider, event_id)
) WITHOUT ROWID;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id     TEXT    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_by      TEXT,
    claimed_until   INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_customer ON outbox (customer_id, id);

CREATE TABLE outbox_dead (
    id          INTEGER PRIMARY KEY,
    customer_id TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,
    last_error  TEXT,
    died_at     INTEGER NOT NULL
);
