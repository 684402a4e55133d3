SET lock_timeout = '2s';
ALTER TABLE links ADD COLUMN expires_at timestamptz;
