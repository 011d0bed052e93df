-- Plan versions: every saved change of a segment's plan (its steps and send window) is a numbered version, kept with
-- who made it, when and what changed. A first-year run records the version it was given, so a manager can re-plan
-- "everyone on version N" and see which version each running customer has.

create table plan_versions (
  segment_id  uuid not null references segments (id),
  version     integer not null check (version >= 1),
  plan        jsonb not null,
  send_window jsonb not null,
  -- md5 of the plan's jsonb text: how a run's snapshot of steps is matched to its version.
  plan_hash   text not null,
  -- What changed from the previous version, in plain words, one entry per change.
  changes     jsonb not null default '[]',
  created_by  text,
  created_at  timestamptz not null default now(),
  primary key (segment_id, version)
);
create index plan_versions_hash_idx on plan_versions (segment_id, plan_hash);

alter table segments add column plan_version integer not null default 1;

insert into plan_versions (segment_id, version, plan, send_window, plan_hash, changes, created_by, created_at)
select id, 1, plan, send_window, md5(plan::text), '["first version"]', 'migration', created_at from segments;

alter table plan_runs add column plan_version integer;
-- Runs started before versions existed get version 1 when their snapshot is the segment's plan of today.
update plan_runs r set plan_version = 1
  from segments s
 where s.id = r.segment_id and r.kind = 'first_year' and r.plan = s.plan;

-- A first-year run is given the version whose steps it holds, whatever path inserts it (a sale, a batch, an import),
-- so the sale paths need not know about versions. Identical steps saved twice (a revert) match the latest version.
create function plan_runs_version() returns trigger language plpgsql as $$
begin
  if new.plan_version is null and new.kind = 'first_year' then
    select version into new.plan_version from plan_versions
     where segment_id = new.segment_id and plan_hash = md5(new.plan::text)
     order by version desc limit 1;
  end if;
  return new;
end;
$$;
create trigger plan_runs_version_insert before insert on plan_runs
  for each row execute function plan_runs_version();

-- Re-planning walks a segment's running first-year plans (optionally of one version) by id.
create index plan_runs_active_segment_idx on plan_runs (segment_id, plan_version, id)
  where kind = 'first_year' and status = 'active';
