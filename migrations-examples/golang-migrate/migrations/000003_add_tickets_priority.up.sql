SET lock_timeout = '2s';
ALTER TABLE tickets ADD COLUMN priority smallint;
