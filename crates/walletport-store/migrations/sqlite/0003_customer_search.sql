-- Customer search (the operator console): name prefixes in any case, first name first or
-- surname first. The expressions must match those in src/sqlite/customers.rs exactly.
-- Phone prefixes use the unique index on `phone`.
CREATE INDEX customers_full_name
    ON customers (lower(trim(coalesce(name, '') || ' ' || coalesce(surname, ''))));
CREATE INDEX customers_reversed_name
    ON customers (lower(trim(coalesce(surname, '') || ' ' || coalesce(name, ''))));
