ALTER TABLE posts DROP CONSTRAINT posts_published_after_created;
ALTER TABLE posts DROP COLUMN published_at;
