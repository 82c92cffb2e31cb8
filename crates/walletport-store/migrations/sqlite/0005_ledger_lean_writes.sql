-- Fewer index writes per ledger entry (issue 13, the `addBalance` hook's throughput): nothing
-- looks an entry up by its transaction id (a credit's lot is found through `lots`, a repeat
-- through `processed_transactions`), so the index only cost a B-tree insert per entry.
DROP INDEX IF EXISTS ledger_entries_transaction;
