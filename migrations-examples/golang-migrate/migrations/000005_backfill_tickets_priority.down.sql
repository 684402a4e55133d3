-- The NULLs the backfill replaced are not restored.
ALTER TABLE tickets ALTER COLUMN priority DROP NOT NULL;
