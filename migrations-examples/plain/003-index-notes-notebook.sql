-- psql runs each statement on its own, so CONCURRENTLY works here.
CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_notebook_id_idx ON notes.notes (notebook_id);
