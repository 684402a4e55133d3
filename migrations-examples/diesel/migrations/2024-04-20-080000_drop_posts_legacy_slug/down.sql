-- Brings the column back, but not the slugs it held.
ALTER TABLE posts ADD COLUMN legacy_slug text;
