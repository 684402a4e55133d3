-- migrate:up
ALTER TABLE bookings VALIDATE CONSTRAINT bookings_cancelled_after_booked;

-- The app now says "name"; the version still running says "title" until it is replaced.
ALTER TABLE events RENAME COLUMN title TO name;

-- migrate:down
ALTER TABLE events RENAME COLUMN name TO title;
