-- The manager's clean-up list (issue 10) reads the flagged customers, newest first; a partial index keeps it cheap
-- however many customers there are (only a few are ever flagged at once).
create index customers_cleanup_idx on customers (updated_at desc, id) where needs_cleanup and erased_at is null;
