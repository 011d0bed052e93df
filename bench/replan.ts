/**
 * bench/replan: the re-plan dry run for BENCH_CUSTOMERS (default 100,000) running customers of an existing database
 * (BENCH_DATABASE_URL, e.g. the `bench:import` database), which must be < 10 s. The database is migrated to latest;
 * the plan change is made inside a transaction that is rolled back, so the database keeps its plans: in that
 * transaction the segment with the most running first-year plans gets a new version (step BENCH_STEP, default 5,
 * one month later), and the dry run lists what would change for its first BENCH_CUSTOMERS running customers.
 * Run with `BENCH_DATABASE_URL=postgres://… npm run bench:replan`; figures go to BENCHMARKS.md. With BENCH_POOL=1 the
 * change is committed and the dry run reads through the pool as the API's does (the next pages on other connections),
 * then the segment and its versions are put back.
 *
 * Without a large database at hand, `BENCH_SEED_SALES=150000 npm run bench:replan` first builds one: a scratch
 * database `rapport_bench_replan_<pid>` on BENCH_DATABASE_URL's server (default the local one), filled by the real
 * import command line from a generated history whose sales all fall in the last year (so most have a running
 * first-year plan); it is dropped afterwards unless BENCH_KEEP=1 (then reuse it with BENCH_DATABASE_URL).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { createDatabase, ensureDatabaseExists, type Database } from '../src/db/database';
import { migrateToLatest } from '../src/db/migrator';
import * as segmentsRepo from '../src/db/repositories/segment.repository';
import * as versions from '../src/db/repositories/plan-version.repository';
import { describePlanChanges } from '../src/domain/plan-version';
import { createLogger } from '../src/logger';
import { installZoneOffsetCache } from '../src/main/zone-offset-cache';
import { dryRunReplan } from '../src/services/replan.service';
import { generateSales } from './generate-sales';
import { benchContext, databaseUrl, dropDatabase } from './scratch';

const ROOT = path.resolve(__dirname, '..', '..');

/** seed builds a scratch database of `sales` imported sales of the last year and returns its URL. */
async function seed(base: string, sales: number): Promise<string> {
  const url = databaseUrl(base, `rapport_bench_replan_${process.pid}`);
  await ensureDatabaseExists(url);
  const db = createDatabase(url, 2);
  await migrateToLatest(db, path.join(ROOT, 'migrations'));
  await db.destroy();
  const file = path.join(os.tmpdir(), `rapport-bench-replan-${process.pid}.csv`);
  await generateSales({
    count: sales,
    format: 'csv',
    out: file,
    badRate: 0,
    seed: 1,
    now: new Date(),
    years: 1,
    source: 'shop-pos',
  });
  const started = Date.now();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'main', 'import.js'), file], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn', RAPPORT_SECRET: randomBytes(32).toString('hex') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  await rm(file, { force: true });
  if (code !== 0) throw new Error(`import exited with ${code}`);
  console.log(`seeded ${sales} sales into ${url} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return url;
}

class Rollback extends Error {}

async function main(): Promise<void> {
  const seedSales = Number(process.env.BENCH_SEED_SALES ?? 0);
  const base = process.env.BENCH_DATABASE_URL;
  if (!base && !seedSales)
    throw new Error(
      'BENCH_DATABASE_URL must name an existing database (e.g. the bench:import one), or set BENCH_SEED_SALES',
    );
  const url = seedSales ? await seed(base ?? 'postgres://postgres@127.0.0.1:5432/postgres', seedSales) : base!;
  const customers = Number(process.env.BENCH_CUSTOMERS ?? 100_000);
  const stepNo = Number(process.env.BENCH_STEP ?? 5);
  installZoneOffsetCache();
  const log = createLogger('warn');
  const db: Database = createDatabase(url, 4);
  try {
    const migrated = Date.now();
    await migrateToLatest(db, path.join(ROOT, 'migrations'));
    console.log(`migrated in ${((Date.now() - migrated) / 1000).toFixed(1)} s`);
    const { rows } = await sql<{ segmentId: string; runs: number }>`
      select segment_id, count(*)::int as runs from plan_runs
       where kind = 'first_year' and status = 'active' group by segment_id order by 2 desc limit 1`.execute(db);
    if (!rows[0]) throw new Error('no running first-year plans in this database');
    const { segmentId, runs } = rows[0];
    const { rows: picked } = await sql<{ customerId: string }>`
      select customer_id from plan_runs
       where segment_id = ${segmentId} and kind = 'first_year' and status = 'active'
       order by id limit ${customers}`.execute(db);
    const ids = picked.map((r) => r.customerId);
    console.log(`segment ${segmentId}: ${runs} running plans; dry run over ${ids.length}`);
    /** changePlan gives the segment a new version with step `stepNo` one month later; returns the segment before. */
    const changePlan = async (trx: Database) => {
      const segment = (await segmentsRepo.findSegmentForUpdate(trx, segmentId))!;
      const plan = segment.plan.map((s) =>
        s.step === stepNo ? { ...s, offset: { ...s.offset, months: (s.offset.months ?? 0) + 1 } } : s,
      );
      const version = (segment.planVersion ?? 1) + 1;
      await segmentsRepo.updateSegment(trx, segmentId, { ...segment, plan }, version);
      await versions.insertPlanVersion(trx, {
        segmentId,
        version,
        plan,
        sendWindow: segment.sendWindow,
        changes: describePlanChanges(segment, { plan, sendWindow: segment.sendWindow }),
        createdBy: 'bench',
        createdAt: new Date(),
      });
      return { segment, version };
    };
    const timed = async (on: Database) => {
      const started = process.hrtime.bigint();
      const run = await dryRunReplan(benchContext(on, {}, log), { segmentId, customerIds: ids });
      return { run, ms: Number(process.hrtime.bigint() - started) / 1e6 };
    };
    let result: Awaited<ReturnType<typeof dryRunReplan>> | undefined;
    let ms = 0;
    if (process.env.BENCH_POOL === '1') {
      // As the API runs it: the change committed, the dry run on the pool (pages read ahead on other connections);
      // then the segment and its versions are put back as they were.
      const before = await db.transaction().execute(changePlan);
      try {
        ({ run: result, ms } = await timed(db));
      } finally {
        await db.transaction().execute(async (trx) => {
          await segmentsRepo.updateSegment(trx, segmentId, before.segment, before.segment.planVersion ?? undefined);
          await trx
            .deleteFrom('planVersions')
            .where('segmentId', '=', segmentId)
            .where('version', '=', before.version)
            .execute();
        });
      }
    } else {
      // Inside one transaction that is rolled back: every read queues on its one connection.
      await db
        .transaction()
        .execute(async (trx) => {
          await changePlan(trx);
          ({ run: result, ms } = await timed(trx));
          throw new Rollback();
        })
        .catch((err) => {
          if (!(err instanceof Rollback)) throw err;
        });
    }
    const r = result!;
    console.log(
      `dry run: ${r.considered} running plans considered, ${r.customers} customers would change ` +
        `${JSON.stringify(r.counts)} in ${(ms / 1000).toFixed(2)} s (goal < 10 s: ${ms < 10_000 ? 'met' : 'NOT met'})`,
    );
    console.log(
      `| re-plan dry run | ${r.considered} running plans | ${(ms / 1000).toFixed(2)} s | ${JSON.stringify(r.counts)} |`,
    );
  } finally {
    await db.destroy();
    if (seedSales && process.env.BENCH_KEEP !== '1')
      await dropDatabase(databaseUrl(url, 'postgres'), new URL(url).pathname.slice(1));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
