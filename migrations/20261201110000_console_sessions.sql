-- The staff console's sign-in: single-use emailed links and revocable sessions. Only SHA-256 hashes of the random
-- tokens are stored, so a copy of the database cannot sign anyone in.

create table sign_in_links (
  token_hash text primary key,
  staff_id uuid not null references staff (id) on delete cascade,
  created_at timestamptz not null,
  expires_at timestamptz not null,
  used_at timestamptz
);
create index sign_in_links_staff_idx on sign_in_links (staff_id);

create table staff_sessions (
  id uuid primary key default gen_random_uuid(),
  token_hash text not null unique,
  staff_id uuid not null references staff (id) on delete cascade,
  created_at timestamptz not null,
  -- Idle expiry counts from here; it is moved forward at most once a minute.
  last_seen_at timestamptz not null,
  -- The absolute end of the session, however active.
  expires_at timestamptz not null,
  revoked_at timestamptz,
  user_agent text
);
create index staff_sessions_live_idx on staff_sessions (staff_id) where revoked_at is null;
