-- Invoices from the old system: no currency means EUR, and DEM amounts were converted long ago.
UPDATE invoices SET currency = 'EUR' WHERE currency IS NULL OR currency = 'DEM';
