-- The console's import page shows progress as lines done of lines in the file: the upload counts its lines.
-- (Null for imports uploaded before this column: their page shows progress by status only.)
alter table imports add column lines integer;

-- The console's audit page lists the trail newest first, page by page (keyset on at, id).
create index audit_log_at_idx on audit_log (at desc, id desc);
