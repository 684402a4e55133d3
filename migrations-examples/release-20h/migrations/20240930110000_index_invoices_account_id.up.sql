-- no-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS invoices_account_id_idx ON invoices (account_id);
