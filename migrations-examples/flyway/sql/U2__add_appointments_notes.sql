ALTER TABLE appointments DROP COLUMN notes;
