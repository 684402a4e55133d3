-- Run in order with: for f in [0-9]*.sql; do psql -v ON_ERROR_STOP=1 -f "$f"; done
CREATE SCHEMA notes;

CREATE TABLE notes.notebooks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id    bigint NOT NULL,
    title       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notes.notes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notebook_id  bigint NOT NULL,
    body         text NOT NULL DEFAULT '',
    legacy_tags  text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Rows copied from the previous note-taking tool, kept for support questions.
CREATE TABLE notes.import_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    note_id      bigint NOT NULL,
    source_ref   text NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now()
);
