-- Billing export v2 no longer reads legacy_plan.
ALTER TABLE accounts DROP COLUMN legacy_plan;
