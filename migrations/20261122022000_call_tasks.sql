-- Call tasks: what each task is for, the task an escalation or complaint task came from, and indexes for the
-- reminder and escalation sweeps.

-- The step's purpose (or why an escalation/complaint task exists), fixed when the task is made.
alter table tasks add column purpose text;
-- An escalation points at the overdue task it escalates; a complaint task at the call task that recorded it.
alter table tasks add column source_task_id uuid references tasks (id);
-- A task escalates once, even with two escalation sweeps running at the same time.
create unique index tasks_one_escalation on tasks (source_task_id) where kind = 'escalation';
-- Reminders look for open tasks that fell due and were not reminded yet.
create index tasks_unreminded_idx on tasks (due_at) where status = 'open' and reminded_at is null;
-- Escalation looks at open call tasks not escalated yet.
create index tasks_escalation_idx on tasks (due_at) where status = 'open' and kind = 'call' and escalated_at is null;
