DROP INDEX CONCURRENTLY IF EXISTS appointments_starts_at_idx;
