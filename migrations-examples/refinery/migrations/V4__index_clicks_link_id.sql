ALTER TABLE clicks VALIDATE CONSTRAINT clicks_link_id_fkey;

-- refinery runs every migration in a transaction, so CONCURRENTLY is not an
-- option: this blocks inserts into clicks until the index is built.
CREATE INDEX clicks_link_id_idx ON clicks (link_id, clicked_at);
