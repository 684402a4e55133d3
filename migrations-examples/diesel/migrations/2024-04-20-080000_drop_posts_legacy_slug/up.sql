SET lock_timeout = '2s';

-- Every post has been checked against the constraint added on 2024-03-18.
ALTER TABLE posts VALIDATE CONSTRAINT posts_published_after_created;

-- The redirects from old slugs were retired; the slugs go with them.
ALTER TABLE posts DROP COLUMN legacy_slug;
