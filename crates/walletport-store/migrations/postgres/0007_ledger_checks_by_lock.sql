-- No per-row foreign-key triggers on the ledger's write path (issue 13, the `addBalance` hook's
-- throughput on PostgreSQL). Every statement that writes a ledger entry or a lot first locks the
-- customer's row (`FOR NO KEY UPDATE`, in the credit batch and in the engine), and customers are
-- never deleted, so the entry's customer exists by construction; a lot is written in the same
-- statement or transaction as its entry. The two checks only cost a trigger call each, with a
-- `FOR KEY SHARE` lock on the customer row the statement has just updated (6–12 µs per call in
-- `EXPLAIN ANALYZE` of a batch of credits, about a sixth of the batch statement), and their
-- `ON DELETE CASCADE` would let a manual `DELETE FROM customers` erase an append-only history.
ALTER TABLE ledger_entries DROP CONSTRAINT IF EXISTS ledger_entries_customer_id_fkey;
ALTER TABLE lots DROP CONSTRAINT IF EXISTS lots_entry_id_fkey;
