-- Customer control, referrals and results: the referrer a sale credits, thank-you runs, and indexes for reports.

-- A sale posted with a valid referral code credits the referrer by id, so the credit survives the erasure of either
-- customer (the code itself is personal data and is wiped on erasure; the link between two anonymous rows is not).
alter table sales add column referrer_id uuid references customers (id);
create index sales_referrer_idx on sales (referrer_id) where referrer_id is not null;

-- A thank-you for a referral is a run of its own holding the plan step it came from, so delivery finds the
-- step's template the same way as for any other touch, and several referrals never collide on (run, step).
alter table plan_runs drop constraint plan_runs_kind_check;
alter table plan_runs add constraint plan_runs_kind_check check (kind in ('first_year', 'later_year', 'referral'));

-- Reports and the delivery-latency metric read touches by completion time.
create index touches_completed_idx on touches (completed_at) where completed_at is not null;
