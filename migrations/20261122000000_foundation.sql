-- Foundation schema: customers, staff, sales, segments and their plans, touches, tasks, keys, idempotency, audit.
-- Every planned contact is a row in `touches`; Redis only ever holds near-term work.

create table settings (
  key        text primary key,
  value      text not null,
  created_at timestamptz not null default now()
);

create table staff (
  id           uuid primary key default gen_random_uuid(),
  email        text not null,
  name         text not null,
  title        text,
  role         text not null default 'salesperson' check (role in ('salesperson', 'executive', 'manager')),
  manager_id   uuid references staff (id),
  timezone     text,
  working_days smallint[] not null default '{1,2,3,4,5}',
  work_start   text not null default '09:00',
  work_end     text not null default '17:00',
  active       boolean not null default true,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now()
);
create unique index staff_email_key on staff (lower(email));

create table api_keys (
  id         uuid primary key default gen_random_uuid(),
  name       text not null,
  role       text not null check (role in ('pos', 'staff', 'admin')),
  key_hash   text not null unique,
  prefix     text not null,
  staff_id   uuid references staff (id),
  created_at timestamptz not null default now(),
  revoked_at timestamptz,
  check (role <> 'staff' or staff_id is not null)
);

create table segments (
  id          uuid primary key default gen_random_uuid(),
  name        text not null unique,
  priority    integer not null default 100,
  is_default  boolean not null default false,
  match       jsonb not null default '{}',
  plan        jsonb not null,
  send_window jsonb not null default '{"days":[1,2,3,4,5],"start":"09:00","end":"17:00"}',
  later_years jsonb not null default '{"humanContact":"call"}',
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create unique index segments_one_default on segments (is_default) where is_default;

create table customers (
  id                 uuid primary key default gen_random_uuid(),
  source             text not null,
  external_id        text,
  first_name         text,
  last_name          text,
  email              text,
  email_status       text not null default 'ok' check (email_status in ('ok', 'bounced')),
  phone              text,
  timezone           text,
  preferred_channel  text check (preferred_channel in ('email', 'letter')),
  address            jsonb,
  email_opt_out      boolean not null default false,
  newsletter_opt_out boolean not null default false,
  do_not_contact     boolean not null default false,
  needs_cleanup      boolean not null default false,
  paused             boolean not null default false,
  referral_code      text not null unique,
  referred_by        uuid references customers (id),
  segment_id         uuid references segments (id),
  program            text not null default 'first_year' check (program in ('first_year', 'later_years', 'none')),
  erased_at          timestamptz,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now()
);
create unique index customers_source_external_key on customers (source, external_id) where external_id is not null;
create index customers_email_idx on customers (lower(email)) where email is not null;
create index customers_phone_idx on customers (phone) where phone is not null;

create table sales (
  id             uuid primary key default gen_random_uuid(),
  source         text not null,
  external_id    text not null,
  customer_id    uuid not null references customers (id),
  salesperson_id uuid references staff (id),
  segment_id     uuid not null references segments (id),
  sold_at        timestamptz not null,
  total_amount   numeric(14, 2) not null check (total_amount >= 0),
  currency       char(3) not null,
  referral_code  text,
  request_hash   text not null,
  response       jsonb,
  created_at     timestamptz not null default now(),
  unique (source, external_id)
);
create index sales_customer_idx on sales (customer_id, sold_at);

create table sale_items (
  id         bigint generated always as identity primary key,
  sale_id    uuid not null references sales (id) on delete cascade,
  sku        text,
  name       text,
  category   text,
  quantity   integer not null check (quantity > 0),
  unit_price numeric(14, 2) not null check (unit_price >= 0)
);
create index sale_items_sale_idx on sale_items (sale_id);

-- One run of a plan for a customer; `plan` is the snapshot of the steps it was given, so a later edit of the
-- segment's plan does not touch runs already going.
create table plan_runs (
  id          uuid primary key default gen_random_uuid(),
  customer_id uuid not null references customers (id),
  sale_id     uuid references sales (id),
  segment_id  uuid not null references segments (id),
  kind        text not null check (kind in ('first_year', 'later_year')),
  year        integer not null default 1,
  status      text not null default 'active' check (status in ('active', 'completed', 'cancelled')),
  plan        jsonb not null,
  started_at  timestamptz not null,
  created_at  timestamptz not null default now(),
  unique (customer_id, kind, year, started_at)
);
-- A customer never has two first-year plans running at once.
create unique index plan_runs_one_active_first_year on plan_runs (customer_id) where kind = 'first_year' and status = 'active';

create table touches (
  id            uuid primary key default gen_random_uuid(),
  plan_run_id   uuid references plan_runs (id),
  customer_id   uuid not null references customers (id),
  step          integer not null,
  channel       text not null check (channel in ('email', 'letter', 'call', 'newsletter')),
  sender_role   text,
  assignee_id   uuid references staff (id),
  due_at        timestamptz not null,
  status        text not null default 'scheduled'
                check (status in ('scheduled', 'queued', 'sent', 'done', 'missed', 'skipped', 'cancelled', 'failed')),
  status_reason text,
  attempts      integer not null default 0,
  queued_at     timestamptz,
  completed_at  timestamptz,
  message_id    text,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);
create unique index touches_run_step_key on touches (plan_run_id, step) where plan_run_id is not null;
create index touches_due_idx on touches (due_at) where status = 'scheduled';
create index touches_queued_idx on touches (queued_at) where status = 'queued';
create index touches_customer_idx on touches (customer_id, due_at);

-- Every status change of a touch, with its time and reason: the timeline's "what happened and why".
create table touch_events (
  id       bigint generated always as identity primary key,
  touch_id uuid not null references touches (id) on delete cascade,
  at       timestamptz not null,
  status   text not null,
  reason   text,
  actor    text
);
create index touch_events_touch_idx on touch_events (touch_id, at);

create table tasks (
  id           uuid primary key default gen_random_uuid(),
  touch_id     uuid references touches (id),
  customer_id  uuid not null references customers (id),
  assignee_id  uuid references staff (id),
  kind         text not null default 'call' check (kind in ('call', 'complaint', 'escalation', 'cleanup')),
  due_at       timestamptz not null,
  status       text not null default 'open' check (status in ('open', 'done', 'cancelled')),
  attempt      integer not null default 1,
  outcome      text check (outcome in ('reached', 'voicemail', 'no_answer', 'wrong_number', 'complaint')),
  notes        text,
  talking_points jsonb not null default '[]',
  reminded_at  timestamptz,
  escalated_at timestamptz,
  completed_at timestamptz,
  created_at   timestamptz not null default now()
);
create unique index tasks_touch_attempt_key on tasks (touch_id, attempt) where touch_id is not null;
create index tasks_assignee_idx on tasks (assignee_id, status, due_at);
create index tasks_customer_idx on tasks (customer_id);

create table notes (
  id          uuid primary key default gen_random_uuid(),
  customer_id uuid not null references customers (id),
  staff_id    uuid references staff (id),
  body        text not null,
  complaint   boolean not null default false,
  created_at  timestamptz not null default now()
);
create index notes_customer_idx on notes (customer_id);

create table idempotency_keys (
  api_key_id   uuid not null references api_keys (id),
  key          text not null,
  route        text not null,
  request_hash text not null,
  status_code  integer not null,
  response     jsonb not null,
  created_at   timestamptz not null default now(),
  primary key (api_key_id, route, key)
);

create table audit_log (
  id        bigint generated always as identity primary key,
  at        timestamptz not null default now(),
  actor     text not null,
  action    text not null,
  entity    text not null,
  entity_id text,
  detail    jsonb not null default '{}'
);
create index audit_log_entity_idx on audit_log (entity, entity_id);
