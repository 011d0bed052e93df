-- People met through a sale or an import are "pending" until a manager confirms them (issue 10): until then no
-- customer data is emailed to them (no reminders or digests), they cannot sign in to the console, and the reminder
-- sweep hands their calls to their manager (else the first manager). Everyone already on the staff is confirmed.
-- The default is true from now on, because the sale and import paths insert salespeople without naming the column;
-- a person added by a manager or an admin (insertStaff) says false.
-- Who confirmed whom, and when, is in the audit trail (staff.confirmed).
alter table staff add column pending boolean not null default false;
alter table staff alter column pending set default true;
