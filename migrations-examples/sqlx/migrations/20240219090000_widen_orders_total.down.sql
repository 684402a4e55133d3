-- Fails if any order total no longer fits in an integer.
ALTER TABLE orders ALTER COLUMN total_cents TYPE integer;
