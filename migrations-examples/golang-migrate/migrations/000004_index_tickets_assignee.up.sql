-- Alone in its file: golang-migrate sends the file as one Exec, and a lone
-- statement runs outside a transaction block, as CONCURRENTLY requires.
CREATE INDEX CONCURRENTLY IF NOT EXISTS tickets_assignee_open_idx
    ON tickets (assignee_id) WHERE closed_at IS NULL;
