-- The dashboard's workload (issue 10) counts the calls still to make in the next eight weeks, live: scheduled call
-- touches and open call tasks by due time and assignee. touches_due_idx holds every scheduled touch of every channel
-- and not the assignee, so at 1,000,000 sales the read fetched a heap row for each of ~220,000 scheduled touches to
-- keep ~64,000 calls (370-1,300 ms). These partial indexes hold only the rows the workload counts, with the assignee,
-- so the read is an index-only scan (~20 ms once (auto)vacuum has set the visibility map). They stay current by
-- themselves; inserting any other row (most of a sale's seven touches) only evaluates the predicate.
create index touches_call_workload_idx on touches (due_at) include (assignee_id)
  where channel = 'call' and status = 'scheduled';
create index tasks_call_workload_idx on tasks (due_at) include (assignee_id)
  where kind = 'call' and status = 'open';
