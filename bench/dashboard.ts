/**
 * bench/dashboard: the results dashboard on an existing database (BENCH_DATABASE_URL, e.g. the `bench:import` one):
 * migrates it, computes every month's rollup once (timed: what the daily refresh costs), times the 5-minute refresh
 * of recent months, then reads the dashboard BENCH_RUNS (50) times each for the last 12 months, one month, all years
 * and one segment, and prints p50/p95 (goal: p95 < 300 ms). Run with `BENCH_DATABASE_URL=… npm run bench:dashboard`.
 */
import path from 'node:path';
import { sql } from 'kysely';
import { createDatabase } from '../src/db/database';
import { migrateToLatest } from '../src/db/migrator';
import { getDashboard, refreshRollups, type DashboardQuery } from '../src/services/dashboard.service';
import { benchContext } from './scratch';

async function main(): Promise<void> {
  const url = process.env.BENCH_DATABASE_URL;
  if (!url) throw new Error('BENCH_DATABASE_URL must name an existing database (e.g. the bench:import one)');
  const runs = Number(process.env.BENCH_RUNS ?? 50);
  const db = createDatabase(url, 4);
  const ctx = benchContext(db, { defaultTimezone: process.env.DEFAULT_TIMEZONE ?? 'UTC' });
  try {
    await migrateToLatest(db, path.join(path.resolve(__dirname, '..', '..'), 'migrations'));
    let t0 = Date.now();
    const all = await refreshRollups(ctx, { full: true });
    console.log(`full refresh ${all?.fromMonth}..${all?.toMonth}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    t0 = Date.now();
    await refreshRollups(ctx);
    console.log(`recent-months refresh: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const { rows } = await sql<{
      id: string;
    }>`select segment_id as id from sales group by 1 order by count(*) desc limit 1`.execute(db);
    const cases: [string, DashboardQuery][] = [
      ['last 12 months', {}],
      ['one month', { from: all?.fromMonth.slice(0, 7), to: all?.fromMonth.slice(0, 7) }],
      ['all years', { from: all?.fromMonth.slice(0, 7) }],
      ['all years, one segment', { from: all?.fromMonth.slice(0, 7), segment: rows[0]?.id }],
    ];
    for (const [name, q] of cases) {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const s = process.hrtime.bigint();
        await getDashboard(ctx, q);
        times.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
      times.sort((a, b) => a - b);
      const p = (f: number) => times[Math.min(times.length - 1, Math.floor(times.length * f))].toFixed(1);
      console.log(`| dashboard, ${name} | p50 ${p(0.5)} ms | p95 ${p(0.95)} ms | goal p95 < 300 ms |`);
    }
  } finally {
    await db.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
