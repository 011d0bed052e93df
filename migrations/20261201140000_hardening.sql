-- Hardening (issue 14).
-- The admin key given in RAPPORT_ADMIN_KEY is marked, so changing the variable revokes the old one (and setting a
-- revoked one again brings it back); only a short prefix of it is kept beside its hash.
alter table api_keys add column from_env boolean not null default false;
update api_keys set from_env = true, prefix = left(prefix, 6) where name = 'RAPPORT_ADMIN_KEY';

-- Idempotency answers hold customer data: they are purged after 24 hours, oldest first.
create index idempotency_keys_created_at on idempotency_keys (created_at);

-- The per-key upload quota sums the bytes of a key's recent imports; the sweeper finds stale uploads.
create index imports_created_by on imports (created_by, created_at);
create index imports_uploading on imports (updated_at) where status = 'uploading';
