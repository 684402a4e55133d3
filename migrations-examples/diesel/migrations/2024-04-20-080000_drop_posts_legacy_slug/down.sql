-- Brings the column back, but not the slugs it held.
ALTER TABLE posts ADD COLUMN legacy_slug text;

-- PostgreSQL cannot un-validate a constraint: put it back as it was, NOT VALID.
ALTER TABLE posts DROP CONSTRAINT posts_published_after_created;
ALTER TABLE posts
    ADD CONSTRAINT posts_published_after_created CHECK (published_at >= created_at) NOT VALID;
