-- migrate:up
ALTER TABLE bookings VALIDATE CONSTRAINT bookings_cancelled_after_booked;

-- The app now says "name"; the version still running says "title" until it is replaced.
ALTER TABLE events RENAME COLUMN title TO name;

-- migrate:down
ALTER TABLE events RENAME COLUMN name TO title;

-- PostgreSQL cannot un-validate a constraint: put it back as it was, NOT VALID.
ALTER TABLE bookings DROP CONSTRAINT bookings_cancelled_after_booked;
ALTER TABLE bookings
    ADD CONSTRAINT bookings_cancelled_after_booked CHECK (cancelled_at >= booked_at) NOT VALID;
