-- Retention: keep 90 days of click history.
DELETE FROM clicks WHERE clicked_at < now() - interval '90 days';
