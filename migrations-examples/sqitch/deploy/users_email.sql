-- Deploy flipr:users_email to pg
-- requires: users

BEGIN;

SET LOCAL lock_timeout = '2s';

ALTER TABLE flipr.users ADD COLUMN email text;

-- Every existing user gets a placeholder address, in one transaction over the whole table.
UPDATE flipr.users SET email = nickname || '@users.invalid' WHERE email IS NULL;

COMMIT;
