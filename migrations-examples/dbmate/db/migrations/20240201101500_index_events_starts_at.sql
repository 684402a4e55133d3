-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_starts_at_idx ON events (starts_at);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS events_starts_at_idx;
