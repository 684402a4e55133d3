-- +goose Up
SET lock_timeout = '2s';
ALTER TABLE products ADD COLUMN sku text;

-- +goose Down
ALTER TABLE products DROP COLUMN sku;
