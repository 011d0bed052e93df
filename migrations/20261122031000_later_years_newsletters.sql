-- Later years and newsletters: editions a manager publishes, each recipient a touch of its own, and the cap of
-- three newsletters per customer in any rolling year enforced by Postgres itself.

create table newsletters (
  id             uuid primary key default gen_random_uuid(),
  subject        text not null,
  -- Liquid, validated when published; rendered per customer at delivery.
  body           text not null,
  -- null sends to every later-years customer.
  segment_id     uuid references segments (id),
  send_at        timestamptz not null,
  status         text not null default 'scheduled'
                 check (status in ('draft', 'scheduled', 'sending', 'sent', 'cancelled')),
  -- Keyset position of the fan-out: customers up to this id have been considered, so a fan-out interrupted
  -- between batches resumes where it stopped and never revisits a customer.
  fanout_cursor  uuid,
  recipients     integer not null default 0,
  -- Customers otherwise eligible who already had three newsletters in the rolling year.
  capped         integer not null default 0,
  fanned_out_at  timestamptz,
  sent_at        timestamptz,
  cancelled_at   timestamptz,
  created_by     text,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);
create index newsletters_due_idx on newsletters (send_at) where status in ('scheduled', 'sending');

-- A newsletter recipient is a touch with no plan run: one per (edition, customer), however often a fan-out runs.
alter table touches add column newsletter_id uuid references newsletters (id);
create unique index touches_newsletter_customer_key on touches (newsletter_id, customer_id) where newsletter_id is not null;
alter table touches add constraint touches_newsletter_channel check (newsletter_id is null or channel = 'newsletter');

-- The fan-out walks later-years customers by id.
create index customers_later_years_idx on customers (id) where program = 'later_years';

-- Why a trigger on touches, rather than a counter or a check only in the fan-out query:
-- * the cap is "at most 3 in any rolling year", a property of a set of rows, which no CHECK or UNIQUE can state;
-- * a newsletter recipient already is a touch row, so counting touches needs no second table to keep in step;
-- * the trigger takes a row lock on the customer before counting, so two transactions adding a newsletter for the
--   same customer (two workers, two editions, a retried batch) run one after the other, and the second counts the
--   first's row: in READ COMMITTED each statement of a volatile function takes a fresh snapshot after the lock is
--   granted. Whatever path inserts a newsletter touch, the fourth raises check_violation and its transaction
--   rolls back.
-- The fan-out itself locks its batch of customers (in id order, so two fan-outs cannot deadlock) and inserts only
-- those under the cap, so in normal operation the trigger never raises; it is the guarantee, not the filter.
-- "Any rolling year" is checked as: no other counting newsletter within one year either side of this one. Any
-- 365-day window holding this touch lies inside that span, so the cap holds for every window even when editions are
-- fanned out in an order other than their send times.
-- Counting rows are those on their way or delivered; a cancelled, skipped or failed one never reached the customer.
create function touches_newsletter_cap() returns trigger language plpgsql volatile as $$
declare
  taken integer;
begin
  perform 1 from customers where id = new.customer_id for update;
  select count(*) into taken from touches
   where customer_id = new.customer_id
     and channel = 'newsletter'
     and id <> new.id
     and status in ('scheduled', 'queued', 'sent')
     and due_at > new.due_at - interval '1 year'
     and due_at < new.due_at + interval '1 year';
  if taken >= 3 then
    raise exception 'customer % already has 3 newsletters within a year of %', new.customer_id, new.due_at
      using errcode = 'check_violation', constraint = 'touches_newsletter_cap';
  end if;
  return new;
end;
$$;

create trigger touches_newsletter_cap_insert
  before insert on touches
  for each row when (new.channel = 'newsletter' and new.status in ('scheduled', 'queued', 'sent'))
  execute function touches_newsletter_cap();

-- An update only needs the check when a row starts counting or moves in time; the dispatcher's scheduled -> queued
-- -> sent steps do not, so they take no customer lock.
create trigger touches_newsletter_cap_update
  before update of status, due_at, customer_id on touches
  for each row when (
    new.channel = 'newsletter' and new.status in ('scheduled', 'queued', 'sent')
    and (old.status not in ('scheduled', 'queued', 'sent') or old.due_at <> new.due_at or old.customer_id <> new.customer_id)
  )
  execute function touches_newsletter_cap();
