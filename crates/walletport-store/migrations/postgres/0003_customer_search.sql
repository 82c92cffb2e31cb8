-- Customer search (the operator console): name prefixes in any case, first name first or
-- surname first, and phone prefixes. `text_pattern_ops` compares bytes (like the C collation),
-- so prefix ranges with `~>=~` / `~<~` use these indexes whatever the database's collation.
-- The expressions must match those in src/postgres/customers.rs exactly.
CREATE INDEX customers_full_name
    ON customers ((lower(btrim(coalesce(name, '') || ' ' || coalesce(surname, '')))) text_pattern_ops);
CREATE INDEX customers_reversed_name
    ON customers ((lower(btrim(coalesce(surname, '') || ' ' || coalesce(name, '')))) text_pattern_ops);
CREATE INDEX customers_phone_pattern ON customers (phone text_pattern_ops);
