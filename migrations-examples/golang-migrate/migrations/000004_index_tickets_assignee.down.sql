DROP INDEX CONCURRENTLY IF EXISTS tickets_assignee_open_idx;
