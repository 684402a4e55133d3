CREATE TABLE agents (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    display     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
