-- Deploy flipr:users to pg
-- requires: appschema

BEGIN;

CREATE TABLE flipr.users (
    nickname   text PRIMARY KEY,
    password   text NOT NULL,
    timestamp  timestamptz NOT NULL DEFAULT clock_timestamp()
);

COMMIT;
