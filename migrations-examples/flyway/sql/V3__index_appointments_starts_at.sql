CREATE INDEX CONCURRENTLY IF NOT EXISTS appointments_starts_at_idx ON appointments (starts_at);
