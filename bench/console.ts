/**
 * bench/console: server time of the staff console's three busiest pages (Today, a task, a customer) on an existing
 * database, such as the one `npm run bench:import` leaves (1,000,000 sales). Run with
 * `BENCH_DATABASE_URL=postgres://.../rapport_bench_import npm run bench:console`.
 *
 * It applies pending migrations, picks the salesperson with the most customers, gives them BENCH_TASKS open calls
 * for today (a third of them overdue) on their customers, signs them in, and requests each page BENCH_REQUESTS
 * times after BENCH_WARMUP requests, in process (app.inject: the server's own time, without a network). The calls
 * it added are deleted at the end. Prints p50, p95 and max per page, in ms, and each page's p95 as a multiple of the
 * floor measured in the same run: the sign-in page, which renders the layout and touches no table.
 */
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { buildApp } from '../src/api/app';
import { createApiMetrics } from '../src/api/metrics';
import { createDatabase } from '../src/db/database';
import { migrateToLatest } from '../src/db/migrator';
import { insertTask } from '../src/db/repositories/task.repository';
import { createLogger } from '../src/logger';
import { ensureSecret } from '../src/services/auth.service';
import { benchContext } from './scratch';
import { issueSignInLink, signIn } from '../src/services/session.service';

function num(name: string, fallback: number): number {
  const v = process.env[name] ? Number(process.env[name]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
  return v;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const url = process.env.BENCH_DATABASE_URL;
  if (!url)
    throw new Error(
      'BENCH_DATABASE_URL must name an imported database, e.g. postgres://postgres@127.0.0.1:5432/rapport_bench_import',
    );
  const requests = num('BENCH_REQUESTS', 200);
  const warmup = num('BENCH_WARMUP', 20);
  const taskCount = num('BENCH_TASKS', 30);
  const db = createDatabase(url, 4);
  const log = createLogger(process.env.LOG_LEVEL || 'warn');
  const applied = await migrateToLatest(db);
  if (applied.length) console.log(`applied migrations: ${applied.join(', ')}`);
  const ctx = benchContext(db, { publicUrl: 'http://localhost:3000', secret: await ensureSecret(db, null) }, log);
  const counts = await sql<{ sales: string; touches: string }>`
    select (select reltuples::bigint from pg_class where relname = 'sales')::text as sales,
           (select reltuples::bigint from pg_class where relname = 'touches')::text as touches`.execute(db);
  console.log(`database: ~${counts.rows[0]!.sales} sales, ~${counts.rows[0]!.touches} touches (planner estimates)`);

  const top = await sql<{ id: string; email: string; customers: string }>`
    select s.id, s.email, count(distinct x.customer_id)::text as customers
    from sales x join staff s on s.id = x.salesperson_id where s.active
    group by s.id, s.email order by count(*) desc limit 1`.execute(db);
  const person = top.rows[0];
  if (!person) throw new Error('no active salesperson with sales in this database');
  const customers = await sql<{ customerId: string }>`
    select customer_id as "customerId" from sales where salesperson_id = ${person.id}
    group by customer_id order by max(sold_at) desc limit ${taskCount}`.execute(db);
  console.log(`salesperson ${person.email}: ${person.customers} customers; adding ${customers.rows.length} open calls`);

  const now = new Date();
  const added: string[] = [];
  const app = await buildApp({ ctx, metrics: createApiMetrics(ctx), redisPing: async () => undefined });
  try {
    for (const [i, c] of customers.rows.entries()) {
      const overdue = i % 3 === 0;
      added.push(
        await insertTask(db, {
          customerId: c.customerId,
          assigneeId: person.id,
          kind: 'call',
          dueAt: new Date(now.getTime() - (overdue ? 3 * 86_400_000 : 60_000 * i)),
          purpose: 'bench: make sure the customer is happy with the product',
          talkingPoints: ['How is it going?'],
          createdAt: now,
        }),
      );
    }
    // People met through an import are pending until a manager confirms them, and only confirmed staff sign in.
    await sql`update staff set pending = false where id = ${person.id}`.execute(db);
    const link = await issueSignInLink(ctx, person.email);
    const session = await signIn(ctx, link.url.split('/').pop()!, 'bench');
    const cookie = `rapport_session=${session!.sessionToken}`;
    const pages: [string, string, string?][] = [
      ['floor: the sign-in page, no database', '/console/sign-in', ''],
      ['Today', '/console/today'],
      ['a task', `/console/tasks/${added[0]}`],
      ['a customer', `/console/customers/${customers.rows[0]!.customerId}`],
    ];
    console.log(`\n| page | p50 ms | p95 ms | max ms | requests | p95 / floor's p95 |\n|---|---|---|---|---|---|`);
    let floor = 0;
    for (const [name, path, asCookie = cookie] of pages) {
      const times: number[] = [];
      for (let i = 0; i < warmup + requests; i++) {
        const start = performance.now();
        const res = await app.inject({ method: 'GET', url: path, headers: { cookie: asCookie } });
        const ms = performance.now() - start;
        if (res.statusCode !== 200) throw new Error(`${path} answered ${res.statusCode}`);
        if (i >= warmup) times.push(ms);
      }
      times.sort((a, b) => a - b);
      const p95 = percentile(times, 95);
      floor ||= p95;
      console.log(
        `| ${name} | ${percentile(times, 50).toFixed(1)} | ${p95.toFixed(1)} | ${times.at(-1)!.toFixed(1)} | ${requests} | ${(p95 / floor).toFixed(1)} |`,
      );
    }
  } finally {
    if (added.length) await db.deleteFrom('tasks').where('id', 'in', added).execute();
    await app.close();
    await db.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
