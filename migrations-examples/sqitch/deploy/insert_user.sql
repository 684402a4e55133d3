-- Deploy flipr:insert_user to pg
-- requires: users
-- requires: users_email

BEGIN;

DROP FUNCTION IF EXISTS flipr.insert_user(text, text);

CREATE FUNCTION flipr.insert_user(nickname text, password text, email text) RETURNS void
LANGUAGE sql SECURITY DEFINER AS $$
    INSERT INTO flipr.users (nickname, password, email) VALUES ($1, md5($2), $3);
$$;

COMMIT;
