-- What a customer corrected through their own link outranks the older data a point-of-sale system keeps sending.
-- Per corrected field, a keyed digest (HMAC-SHA-256 with the service's secret, never the value) of what the record
-- held before the correction: a sale that sends that old value again leaves the field alone; a sale that sends
-- something new is newer news and wins.
alter table customers add column contact_corrections jsonb not null default '{}';
-- A till that knows a customer only by the email or phone they have since corrected still finds them through these.
create index customers_corrected_email_idx on customers ((contact_corrections ->> 'email')) where contact_corrections ? 'email';
create index customers_corrected_phone_idx on customers ((contact_corrections ->> 'phone')) where contact_corrections ? 'phone';
