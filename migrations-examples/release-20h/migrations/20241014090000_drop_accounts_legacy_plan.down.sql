-- Re-creates the column, empty: the plan codes it held are gone.
ALTER TABLE accounts ADD COLUMN legacy_plan text;
