-- Fewer writes and checks per ledger entry (issue 13, the `addBalance` hook's throughput).
-- Nothing looks an entry up by its transaction id (a credit's lot is found through `lots`, a
-- repeat through `processed_transactions`), so this index only cost an insert per entry.
DROP INDEX IF EXISTS ledger_entries_transaction;
-- A lot's customer is its entry's (`lots.entry_id` references `ledger_entries`, whose
-- `customer_id` references `customers`, both ON DELETE CASCADE), so the second foreign key only
-- cost a trigger and a customer lookup per lot.
ALTER TABLE lots DROP CONSTRAINT IF EXISTS lots_customer_id_fkey;
