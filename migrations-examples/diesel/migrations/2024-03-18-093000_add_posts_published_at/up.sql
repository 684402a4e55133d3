-- Fail fast instead of queueing behind a long transaction on a busy table.
SET lock_timeout = '2s';

ALTER TABLE posts ADD COLUMN published_at timestamptz;

-- NOT VALID: checks new rows only, no scan of existing posts while holding the lock.
ALTER TABLE posts
    ADD CONSTRAINT posts_published_after_created CHECK (published_at >= created_at) NOT VALID;
