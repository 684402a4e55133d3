CREATE TYPE appointment_status AS ENUM ('booked', 'checked_in', 'completed', 'no_show', 'cancelled');

-- Rewrites the table under ACCESS EXCLUSIVE, and fails on any status outside the enum.
ALTER TABLE appointments ALTER COLUMN status DROP DEFAULT;
ALTER TABLE appointments
    ALTER COLUMN status TYPE appointment_status USING status::appointment_status;
ALTER TABLE appointments ALTER COLUMN status SET DEFAULT 'booked';
