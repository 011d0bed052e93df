-- A print batch closes when it is downloaded for printing (status `printing`): letters filed after that go into the
-- day's next batch, so marking a batch mailed marks sent exactly the letters that were printed with it.
alter table letter_batches drop constraint letter_batches_status_check;
alter table letter_batches add constraint letter_batches_status_check check (status in ('open', 'printing', 'mailed'));
alter table letter_batches add column closed_at timestamptz;
