SET lock_timeout = '2s';
ALTER TABLE notes.notes ADD COLUMN archived_at timestamptz;
