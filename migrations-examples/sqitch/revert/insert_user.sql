-- Revert flipr:insert_user from pg

BEGIN;

DROP FUNCTION flipr.insert_user(text, text, text);

CREATE FUNCTION flipr.insert_user(nickname text, password text) RETURNS void
LANGUAGE sql SECURITY DEFINER AS $$
    INSERT INTO flipr.users (nickname, password) VALUES ($1, md5($2));
$$;

COMMIT;
