CREATE TABLE invoices (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id),
    amount_cents  bigint NOT NULL,
    -- ISO 4217 code; invoices imported from the old system may have none, or 'DEM'.
    currency      text,
    issued_at     timestamptz NOT NULL DEFAULT now()
);
