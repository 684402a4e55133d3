SET lock_timeout = '3s';

ALTER TABLE orders ADD COLUMN status text;

-- NOT VALID: existing rows are checked later, without holding ACCESS EXCLUSIVE during a scan.
ALTER TABLE orders
    ADD CONSTRAINT orders_status_check
    CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')) NOT VALID;
