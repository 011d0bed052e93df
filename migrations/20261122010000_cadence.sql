-- Cadence engine: send leases on touches (so concurrent workers never deliver twice), rendered content,
-- letter print batches, and reminder bookkeeping for staff.

-- A worker holds a touch while delivering it; an expired lease (the worker died) lets the reconciler queue it again.
alter table touches add column lease_until timestamptz;
-- What was rendered and sent (subject, text, sender), kept for the timeline and wiped on erasure.
alter table touches add column content jsonb;

create table letter_batches (
  id            uuid primary key default gen_random_uuid(),
  business_date date not null,
  seq           integer not null default 1,
  status        text not null default 'open' check (status in ('open', 'mailed')),
  paper         text not null default 'A4' check (paper in ('A4', 'Letter')),
  created_at    timestamptz not null default now(),
  mailed_at     timestamptz,
  unique (business_date, seq)
);
-- At most one open batch per business day.
create unique index letter_batches_one_open on letter_batches (business_date) where status = 'open';

alter table touches add column letter_batch_id uuid references letter_batches (id);
alter table touches add column letter_pdf bytea;
create index touches_letter_batch_idx on touches (letter_batch_id) where letter_batch_id is not null;

alter table staff add column last_reminder_at timestamptz;
alter table staff add column last_digest_on date;

alter table tasks add column escalated_to uuid references staff (id);
