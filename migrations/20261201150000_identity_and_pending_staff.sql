-- Identity rules (issue 12): phones are stored in E.164 when they parse; the text the till sent is kept for display.
alter table customers add column phone_display text;

-- A weak match (phone only) that would have changed the customer's email or name is kept here for clean-up instead.
create table possible_duplicates (
  id          uuid primary key default gen_random_uuid(),
  customer_id uuid not null references customers (id) on delete cascade,
  sale_id     uuid not null,
  matched_by  text not null check (matched_by in ('phone')),
  -- What the sale said that differs from the customer (email and names only): personal data, erased with the customer.
  given       jsonb not null default '{}',
  created_at  timestamptz not null default now(),
  resolved_at timestamptz
);
create index possible_duplicates_open_idx on possible_duplicates (customer_id) where resolved_at is null;

-- Staff created by a sale are pending until a manager confirms them (issue 14): until then no customer data is
-- emailed to them, their tasks show to their manager, and Reply-To is the business.
alter table staff add column pending boolean not null default false;
alter table staff add column confirmed_at timestamptz;
