-- migrate:up
SET lock_timeout = '2s';

ALTER TABLE bookings ADD COLUMN cancelled_at timestamptz;

ALTER TABLE bookings
    ADD CONSTRAINT bookings_cancelled_after_booked CHECK (cancelled_at >= booked_at) NOT VALID;

-- migrate:down
ALTER TABLE bookings DROP CONSTRAINT bookings_cancelled_after_booked;
ALTER TABLE bookings DROP COLUMN cancelled_at;
