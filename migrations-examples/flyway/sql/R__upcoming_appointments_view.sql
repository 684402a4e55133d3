CREATE OR REPLACE VIEW upcoming_appointments AS
SELECT a.id, a.starts_at, a.clinician, p.full_name AS patient
FROM appointments a
JOIN patients p ON p.id = a.patient_id
WHERE a.starts_at >= now();
