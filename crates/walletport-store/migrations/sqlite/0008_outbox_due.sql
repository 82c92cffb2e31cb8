-- The outbox claim walks items in the order they fall due, so items waiting for a retry (a vendor
-- outage) are never read until they are due: before, the claim walked every item in id order
-- and an outage with 100,000 heads backing off made each claim read all of them.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id);
-- The items under a lease (or one that ran out and was not handed back), by customer: the
-- claim's check that no lease holds a customer reads these few instead of every item the
-- customer has waiting (100,000 for a house account credited through an outage).
CREATE INDEX outbox_leased ON outbox (customer_id) WHERE claimed_until IS NOT NULL;
