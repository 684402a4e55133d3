CREATE TABLE clicks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    link_id     bigint NOT NULL,
    clicked_at  timestamptz NOT NULL DEFAULT now(),
    referrer    text
);

-- NOT VALID now, validated in V4: keeps this migration instant.
ALTER TABLE clicks
    ADD CONSTRAINT clicks_link_id_fkey FOREIGN KEY (link_id) REFERENCES links (id) NOT VALID;
