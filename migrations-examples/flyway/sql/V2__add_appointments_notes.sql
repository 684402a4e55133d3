SET lock_timeout = '2s';
ALTER TABLE appointments ADD COLUMN notes text;
