-- Tags moved to their own table last quarter; the import from the old tool is long done.
BEGIN;
SET LOCAL lock_timeout = '2s';
ALTER TABLE notes.notes DROP COLUMN legacy_tags;
DROP TABLE notes.import_log;
COMMIT;
