-- A vendor that reveals a smaller plan than configured (Passteam: "You can only make N requests
-- per hour") lowers a window for every gateway on this database, and for a restarted one
-- (issue 15). `per_us:limit` pairs separated by commas; empty: the configured plan holds.
ALTER TABLE vendor_quota ADD COLUMN lowered_limits TEXT NOT NULL DEFAULT '';
