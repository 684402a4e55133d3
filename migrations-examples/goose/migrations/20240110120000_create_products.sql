-- +goose Up
CREATE TABLE products (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             text NOT NULL,
    price_cents      integer NOT NULL CHECK (price_cents >= 0),
    stock            integer NOT NULL DEFAULT 0,
    discontinued_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE products;
