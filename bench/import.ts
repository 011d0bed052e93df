/**
 * bench/import: imports a generated history of 1,000,000 sales with `npm run import` (the real command line, in its
 * own process, against a fresh database) and reports sales per second and the importing process's peak memory;
 * then, in the same run, measures Postgres's own speed at writing the same rows server-side (INSERT ... SELECT from
 * generate_series into the same tables of a scratch database) and prints the ratio.
 *
 *   npm run bench:import            (BENCH_SALES=1000000 BENCH_FORMAT=csv BENCH_KEEP=0)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { sql } from 'kysely';
import { createDatabase, ensureDatabaseExists, type Database } from '../src/db/database';
import { migrateToLatest } from '../src/db/migrator';
import { summariseData } from '../src/db/repositories/import.repository';
import { generateSales } from './generate-sales';

const ROOT = path.resolve(__dirname, '..', '..');
const BASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SALES = Number(process.env.BENCH_SALES ?? 1_000_000);
const FORMAT = (process.env.BENCH_FORMAT ?? 'csv') as 'csv' | 'ndjson';
const KEEP = process.env.BENCH_KEEP === '1';

function urlOf(name: string): string {
  const u = new URL(BASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

async function freshDatabase(name: string): Promise<Database> {
  await dropDatabase(name);
  await ensureDatabaseExists(urlOf(name));
  const db = createDatabase(urlOf(name), 4);
  await migrateToLatest(db, path.join(ROOT, 'migrations'));
  return db;
}

async function dropDatabase(name: string): Promise<void> {
  const admin = new Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
}

/** runImport runs the command line on the file and returns its wall time, output and peak RSS in MB. */
async function runImport(file: string, dbName: string): Promise<{ seconds: number; output: string; rssMb: number }> {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    ['--max-old-space-size=192', path.join(ROOT, 'dist', 'main', 'import.js'), file],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: urlOf(dbName),
        LOG_LEVEL: 'warn',
        RAPPORT_SECRET: process.env.RAPPORT_SECRET ?? randomBytes(32).toString('hex'), // as production requires
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`import exited with ${code}:\n${output}`);
  const rss = /peak memory \(RSS\):\s+(\d+) MB/.exec(output);
  return { seconds: (Date.now() - started) / 1000, output, rssMb: rss ? Number(rss[1]) : NaN };
}

/**
 * postgresOwnSpeed writes the same numbers of customers, sales, items, first-year runs, touches and touch events
 * server-side, in transactions of 100,000 sales, and returns the seconds taken.
 */
async function postgresOwnSpeed(
  db: Database,
  n: { customers: number; sales: number; items: number; touches: number },
): Promise<number> {
  const chunk = 100_000;
  const started = Date.now();
  const { segment } = (await sql<{ segment: string }>`select id as segment from segments where is_default`.execute(db))
    .rows[0];
  const extraItemEvery = Math.max(1, Math.round(n.sales / Math.max(1, n.items - n.sales)));
  for (let from = 1; from <= n.customers; from += chunk) {
    const to = Math.min(n.customers, from + chunk - 1);
    await sql`
      insert into customers (id, source, external_id, first_name, last_name, email, phone, timezone, address, referral_code, segment_id, program)
      select md5('c' || g)::uuid, 'pg', 'C-' || g, 'First' || g, 'Last', 'c' || g || '@example.com', '+1 555 ' || g, 'America/New_York',
             jsonb_build_object('lines', jsonb_build_array(g || ' Main St'), 'city', 'Boston', 'region', 'MA', 'postalCode', '02101', 'country', 'US'),
             'R' || g, ${segment}::uuid, case when g % 3 = 0 then 'first_year' else 'later_years' end
        from generate_series(${from}::int, ${to}::int) g`.execute(db);
  }
  const runsPerSale = n.touches / 7 / n.sales;
  for (let from = 1; from <= n.sales; from += chunk) {
    const to = Math.min(n.sales, from + chunk - 1);
    await db.transaction().execute(async (trx) => {
      await sql`
        insert into sales (id, source, external_id, customer_id, segment_id, sold_at, total_amount, currency, request_hash, response)
        select md5('s' || g)::uuid, 'pg', 'INV-' || g, md5('c' || (1 + g % ${n.customers}::int))::uuid, ${segment}::uuid,
               now() - (g % 1000) * interval '1 day', 1299.00, 'AUD', md5(g::text) || md5(g::text),
               jsonb_build_object('sale', jsonb_build_object('id', md5('s' || g)::uuid), 'customer', jsonb_build_object('id', md5('c' || g)::uuid),
                 'segment', jsonb_build_object('id', ${segment}::uuid, 'name', 'default'),
                 'touches', (select jsonb_agg(jsonb_build_object('id', md5('t' || g || '-' || k)::uuid, 'step', k, 'channel', 'email',
                                                                 'dueAt', now(), 'status', 'missed')) from generate_series(1, 7) k))
          from generate_series(${from}::int, ${to}::int) g`.execute(trx);
      await sql`
        insert into sale_items (sale_id, sku, name, category, quantity, unit_price)
        select md5('s' || g)::uuid, 'SOFA-3', '3-seat sofa', 'furniture', 1, 1299.00
          from generate_series(${from}::int, ${to}::int) g, generate_series(1, 1 + (g % ${extraItemEvery}::int = 0)::int) i`.execute(
        trx,
      );
      await sql`
        insert into plan_runs (id, customer_id, sale_id, segment_id, kind, year, status, plan, started_at)
        select md5('r' || g)::uuid, md5('c' || (1 + g % ${n.customers}::int))::uuid, md5('s' || g)::uuid, s.id, 'first_year', 1,
               'completed', s.plan, now() - g * interval '1 second'
          from generate_series(${from}::int, ${to}::int) g, segments s
         where s.is_default and (g % 1000) < ${Math.round(runsPerSale * 1000)}::int`.execute(trx);
      await sql`
        with t as (
          insert into touches (id, plan_run_id, customer_id, step, channel, due_at, status, status_reason, completed_at)
          select md5('t' || g || '-' || k)::uuid, md5('r' || g)::uuid, md5('c' || (1 + g % ${n.customers}::int))::uuid, k,
                 case when k in (2, 7) then 'call' else 'email' end, now() - (g % 1000) * interval '1 day' + k * interval '30 days',
                 'missed', 'past_grace_period', now()
            from generate_series(${from}::int, ${to}::int) g, generate_series(1, 7) k
           where (g % 1000) < ${Math.round(runsPerSale * 1000)}::int
          returning id, status, status_reason)
        insert into touch_events (touch_id, at, status, reason) select id, now(), status, status_reason from t`.execute(
        trx,
      );
    });
  }
  return (Date.now() - started) / 1000;
}

async function main(): Promise<void> {
  const file = path.join(os.tmpdir(), `rapport-bench-sales-${SALES}.${FORMAT}`);
  if (!existsSync(file)) {
    process.stderr.write(`generating ${SALES} sales into ${file} ...\n`);
    await generateSales({
      count: SALES,
      format: FORMAT,
      out: file,
      badRate: 0,
      seed: 42,
      now: new Date(),
      years: 3,
      source: 'bench-pos',
    });
  }
  const importDb = `rapport_bench_import_${process.pid}`;
  const scratchDb = `rapport_bench_import_pg_${process.pid}`;
  const db = await freshDatabase(importDb);
  await db.destroy();
  process.stderr.write(
    `importing with: node --max-old-space-size=192 dist/main/import.js ${file} (as npm run import)\n`,
  );
  const run = await runImport(file, importDb);
  const imported = createDatabase(urlOf(importDb), 2);
  const counts = await summariseData(imported, { checksum: false });
  await imported.destroy();

  const scratch = await freshDatabase(scratchDb);
  process.stderr.write('writing the same rows server-side (INSERT ... SELECT from generate_series) ...\n');
  const pgSeconds = await postgresOwnSpeed(scratch, {
    customers: counts.customers,
    sales: counts.sales,
    items: counts.items,
    touches: counts.touches,
  });
  const pgCounts = await summariseData(scratch, { checksum: false });
  await scratch.destroy();
  if (!KEEP) await Promise.all([dropDatabase(importDb), dropDatabase(scratchDb)]);

  const rate = counts.sales / run.seconds;
  const pgRate = pgCounts.sales / pgSeconds;
  process.stdout.write(
    [
      '',
      run.output.trim(),
      '',
      `machine: ${os.cpus().length} CPU (${os.cpus()[0]?.model ?? '?'}), load average (1, 5, 15 min) at the end: ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
      `rows written by the import: ${JSON.stringify({ ...counts, checksum: undefined })}`,
      `rows written by Postgres:   ${JSON.stringify({ ...pgCounts, checksum: undefined })}`,
      `import (end to end, npm run import):   ${counts.sales} sales in ${run.seconds.toFixed(1)} s = ${Math.round(rate)} sales/s (goal 8000)`,
      `Postgres INSERT ... SELECT, same rows: ${pgCounts.sales} sales in ${pgSeconds.toFixed(1)} s = ${Math.round(pgRate)} sales/s`,
      `ratio import / Postgres:               ${(rate / pgRate).toFixed(2)}`,
      `peak memory of the importing process:  ${run.rssMb} MB (goal < 300 MB)`,
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  process.stderr.write(`bench/import failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
