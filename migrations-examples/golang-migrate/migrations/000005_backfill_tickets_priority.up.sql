-- Backfill and tighten in one go. Both statements run in one implicit
-- transaction, and SET NOT NULL scans the table under ACCESS EXCLUSIVE.
UPDATE tickets SET priority = 3 WHERE priority IS NULL;
ALTER TABLE tickets ALTER COLUMN priority SET NOT NULL;
