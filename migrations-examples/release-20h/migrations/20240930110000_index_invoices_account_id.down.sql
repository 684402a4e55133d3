-- no-transaction
DROP INDEX CONCURRENTLY IF EXISTS invoices_account_id_idx;
