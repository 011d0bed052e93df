-- Imports of sales history: the uploaded file kept in Postgres as ordered chunks (so any worker can process it and
-- a crash loses nothing), the import's progress committed with each batch, and the rows it rejected.

create table imports (
  id            uuid primary key default gen_random_uuid(),
  format        text not null check (format in ('csv', 'ndjson')),
  -- CSV reading options: day/month order of slashed dates, default currency and source when a column is empty.
  options       jsonb not null default '{}',
  status        text not null default 'uploading'
                check (status in ('uploading', 'queued', 'running', 'completed', 'failed')),
  file_name     text,
  bytes         bigint not null default 0,
  chunks        integer not null default 0,
  -- Progress, committed in the same transaction as each batch: sales done and where the next batch starts.
  sales_done    integer not null default 0,
  rows_read     integer not null default 0,
  last_line     integer not null default 0,
  imported      integer not null default 0,
  duplicates    integer not null default 0,
  rejected      integer not null default 0,
  error         text,
  created_by    text,
  created_at    timestamptz not null default now(),
  started_at    timestamptz,
  finished_at   timestamptz,
  updated_at    timestamptz not null default now()
);

-- The uploaded file, about 1 MB a chunk, deleted once the import has finished.
create table import_chunks (
  import_id uuid not null references imports (id) on delete cascade,
  seq       integer not null,
  data      bytea not null,
  primary key (import_id, seq)
);

-- One row per rejected sale: the line it starts on, the field at fault and why.
create table import_rejections (
  import_id uuid not null references imports (id) on delete cascade,
  line      integer not null,
  field     text not null,
  reason    text not null,
  external_id text,
  primary key (import_id, line)
);
