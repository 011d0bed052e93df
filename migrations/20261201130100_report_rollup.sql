-- The results dashboard reads monthly rollups instead of the touches, tasks, sales and audit rows themselves, so it
-- answers in milliseconds at millions of sales. A rollup is a pure function of those rows: the maintenance task
-- `report-rollup` recomputes the recent months (where statuses still change) every few minutes and every month
-- once a night, each month replaced whole in one transaction; report_rollup_months says when each was computed.
-- Month = calendar month in the business zone; a null segment or salesperson means none is known.

-- Contacts by the month they fell due, by how they ended.
create table report_contacts_monthly (
  month          date not null,
  segment_id     uuid,
  salesperson_id uuid,
  channel        text not null,
  planned        integer not null,
  on_time        integer not null,
  late           integer not null,
  missed         integer not null,
  skipped        integer not null,
  cancelled      integer not null,
  failed         integer not null,
  pending        integer not null
);
create index report_contacts_monthly_month_idx on report_contacts_monthly (month);

-- What happened in the month: calls completed and reached, sales, repeat sales, referrals, opt-outs.
create table report_activity_monthly (
  month                date not null,
  segment_id           uuid,
  salesperson_id       uuid,
  calls_completed      integer not null default 0,
  calls_reached        integer not null default 0,
  sales                integer not null default 0,
  repeat_sales         integer not null default 0,
  referrals            integer not null default 0,
  opt_outs_email       integer not null default 0,
  opt_outs_newsletter  integer not null default 0,
  opt_outs_all         integer not null default 0
);
create index report_activity_monthly_month_idx on report_activity_monthly (month);

create table report_rollup_months (
  month       date primary key,
  computed_at timestamptz not null
);
