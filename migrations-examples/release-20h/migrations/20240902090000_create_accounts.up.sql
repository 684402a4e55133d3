CREATE TABLE accounts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    plan         text NOT NULL DEFAULT 'starter',
    -- Plan codes from the 2019 pricing, still read by the billing export.
    legacy_plan  text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
