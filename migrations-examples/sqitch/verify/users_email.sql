-- Verify flipr:users_email on pg

SELECT email FROM flipr.users WHERE false;
