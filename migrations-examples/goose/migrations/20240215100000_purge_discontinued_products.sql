-- +goose Up
-- Products discontinued more than two years ago clutter the catalogue.
DELETE FROM products WHERE discontinued_at < now() - interval '2 years';

-- +goose Down
-- The deleted products cannot be brought back from here.
