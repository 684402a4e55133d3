CREATE TABLE links (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    target_url  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
