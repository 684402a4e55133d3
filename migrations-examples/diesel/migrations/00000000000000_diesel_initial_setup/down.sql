DROP FUNCTION IF EXISTS diesel_manage_updated_at(regclass);
DROP FUNCTION IF EXISTS diesel_set_updated_at();
