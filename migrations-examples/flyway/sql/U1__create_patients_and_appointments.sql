DROP TABLE appointments;
DROP TABLE patients;
