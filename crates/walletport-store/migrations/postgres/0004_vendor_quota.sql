-- The vendor quota shared by every gateway on this database (issue 15).
-- One row per quota key (the provider): how many requests it has granted so far, until when
-- a vendor's Retry-After holds everyone, and until when an interactive taker goes first. Times
-- are microseconds since the Unix epoch, on the database's clock, so gateways on several
-- machines agree.
CREATE TABLE vendor_quota (
    quota_key       TEXT PRIMARY KEY,
    granted         BIGINT NOT NULL DEFAULT 0 CHECK (granted >= 0),
    paused_until_us BIGINT NOT NULL DEFAULT 0,
    -- Background takers wait until then: an interactive taker (a person) waits for a slot.
    interactive_until_us BIGINT NOT NULL DEFAULT 0
);

-- The grants themselves, numbered 1, 2, ... per key; only the last (largest limit) are kept.
-- A window of `limit` per `per` has room at `t` when grant `granted - limit + 1` is older than
-- `t - per`.
CREATE TABLE vendor_quota_grants (
    quota_key     TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    granted_at_us BIGINT NOT NULL,
    PRIMARY KEY (quota_key, seq)
);
