-- The business's own voice: its identity (stored here; the environment only gives the defaults), staff phones,
-- segment content blocks, newsletter local send times, and customer links that carry a purpose and a version.

-- One row: the business as customers see it. A null column falls back to the environment's default.
create table business_identity (
  id          boolean primary key default true check (id),
  name        text,
  -- {"lines": [...], "city", "region", "postalCode", "country"}: the return address on letters.
  address     jsonb,
  phone       text,
  website     text,
  -- The From of every email, e.g. "Lee & Co Furniture <hello@leeandco.example>".
  email_from  text,
  logo        bytea,
  logo_type   text check (logo_type in ('image/png', 'image/jpeg')),
  -- {"closing": "Kind regards,", "showTitle", "showBusiness", "showPhone"}
  signature   jsonb,
  updated_at  timestamptz not null default now(),
  updated_by  text
);

alter table staff add column phone text;

-- Content a manager writes once per segment and its steps use: {"careTips", "whatsNew", "serviceOffer"}.
alter table segments add column content jsonb not null default '{}';

-- An edition sent at a local time reaches each recipient at that time in their own zone.
alter table newsletters add column local_time text;
alter table newsletters add column local_date text;

-- A customer's links carry this version; bumping it (erasure, a new email address) voids every link given out.
alter table customers add column link_version integer not null default 1;

create function customers_link_version() returns trigger language plpgsql as $$
begin
  if new.email is distinct from old.email or (new.erased_at is not null and old.erased_at is null) then
    new.link_version := old.link_version + 1;
  end if;
  return new;
end;
$$;
create trigger customers_link_version_bump
  before update of email, erased_at on customers
  for each row execute function customers_link_version();

-- The short code printed on a letter (typed in from paper) stands for a preference link, under the same expiry
-- and version rules as a signed link.
create table customer_link_codes (
  code         text primary key,
  customer_id  uuid not null references customers (id),
  purpose      text not null check (purpose in ('preferences')),
  link_version integer not null,
  expires_at   timestamptz not null,
  created_at   timestamptz not null default now()
);
create index customer_link_codes_customer_idx on customer_link_codes (customer_id);
create index customer_link_codes_expiry_idx on customer_link_codes (expires_at);

-- Export and erasure need a fresh link emailed on request: single use, short-lived, kept only as a digest.
create table customer_link_grants (
  token_hash   text primary key,
  customer_id  uuid not null references customers (id),
  purpose      text not null check (purpose in ('export', 'erase')),
  link_version integer not null,
  expires_at   timestamptz not null,
  used_at      timestamptz,
  created_at   timestamptz not null default now()
);
create index customer_link_grants_customer_idx on customer_link_grants (customer_id);

-- Letters are printed on the paper of their destination (Letter for the US and Canada, A4 elsewhere), so a day has
-- one open print batch per paper size: a print run never mixes sheets.
drop index letter_batches_one_open;
create unique index letter_batches_one_open on letter_batches (business_date, paper) where status = 'open';
