-- +goose NO TRANSACTION
-- +goose Up
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS products_sku_key ON products (sku);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS products_sku_key;
