-- Revert flipr:users_email from pg

BEGIN;

ALTER TABLE flipr.users DROP COLUMN email;

COMMIT;
