ALTER TABLE appointments ALTER COLUMN status DROP DEFAULT;
ALTER TABLE appointments ALTER COLUMN status TYPE text USING status::text;
ALTER TABLE appointments ALTER COLUMN status SET DEFAULT 'booked';
DROP TYPE appointment_status;
