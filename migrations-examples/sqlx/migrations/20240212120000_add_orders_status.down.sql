ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders DROP COLUMN status;
