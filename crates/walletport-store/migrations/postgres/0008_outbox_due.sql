-- The outbox claim walks items in the order they fall due, so items waiting for a retry (a vendor
-- outage) are never read until they are due: before, the claim walked every item in id order
-- and an outage with 100,000 heads backing off made each claim read all of them.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id);
