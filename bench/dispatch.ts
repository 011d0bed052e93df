/**
 * bench/dispatch: how fast the real worker processes deliver and record due touches (emails into a local SMTP sink,
 * letters into the day's print batch, calls as tasks), compared with raw BullMQ throughput of no-op jobs on the same
 * Redis; lateness at a steady load; and Redis memory with a large number of customers' plans scheduled, against the
 * memory one delayed BullMQ job per touch would take. Run with `npm run bench:dispatch` (settings: BENCH_* below,
 * figures: BENCHMARKS.md).
 *
 * The same compiled file plays three roles, chosen by its first argument: the benchmark itself (no argument), the
 * SMTP sink (`sink`) and a no-op BullMQ worker (`noop`). Each runs in its own process, as the real deployment would.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { Pool } from 'pg';
import { SMTPServer } from 'smtp-server';
import { createDatabase, ensureDatabaseExists } from '../src/db/database';
import { migrateToLatest } from '../src/db/migrator';
import { TOUCH_JOB_OPTIONS, touchJobId } from '../src/jobs/contract';
import { cpuSeconds, databaseUrl, dropDatabase } from './scratch';

/** BenchSettings are the knobs of one run, from the environment. */
interface BenchSettings {
  baseUrl: string;
  redisUrl: string;
  touches: number;
  workers: number;
  concurrency: number;
  poolSize: number;
  smtpConnections: number;
  steadyRate: number;
  steadySeconds: number;
  planCustomers: number;
  delayedJobs: number;
  logLevel: string;
  keep: boolean;
  phases: Set<string>;
  /** Percentages of emails, letters and calls among the seeded touches. */
  mix: { email: number; letter: number; call: number };
}

function settingsFrom(env: NodeJS.ProcessEnv): BenchSettings {
  const num = (name: string, fallback: number) => {
    const value = env[name] ? Number(env[name]) : fallback;
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
    return value;
  };
  return {
    baseUrl: env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
    touches: num('BENCH_TOUCHES', 100_000),
    workers: num('BENCH_WORKERS', 1),
    concurrency: num('BENCH_CONCURRENCY', 64),
    poolSize: num('BENCH_POOL_SIZE', 10),
    smtpConnections: num('BENCH_SMTP_CONNECTIONS', 0),
    steadyRate: num('BENCH_STEADY_RATE', 300),
    steadySeconds: num('BENCH_STEADY_SECONDS', 60),
    planCustomers: num('BENCH_PLAN_CUSTOMERS', 1_000_000),
    delayedJobs: num('BENCH_DELAYED_JOBS', 100_000),
    logLevel: env.LOG_LEVEL || 'warn',
    keep: env.BENCH_KEEP === '1',
    phases: new Set((env.BENCH_PHASES || 'raw,burst,steady,memory').split(',')),
    mix: mixFrom(env.BENCH_MIX || '60,20,20'),
  };
}

/** mixFrom reads BENCH_MIX, "email,letter,call" percentages adding up to 100. */
function mixFrom(text: string): BenchSettings['mix'] {
  const [email, letter, call] = text.split(',').map(Number);
  if ([email, letter, call].some((n) => !Number.isInteger(n) || n! < 0) || email! + letter! + call! !== 100) {
    throw new Error(
      'BENCH_MIX must be three whole percentages of emails, letters and calls adding up to 100, e.g. 60,20,20',
    );
  }
  return { email: email!, letter: letter!, call: call! };
}

const say = (text: string) => process.stdout.write(`${text}\n`);
const line = (label: string, value: string) => say(`${label.padEnd(34)}${value}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------
// Child roles

/** runSink is the SMTP sink: accepts every message and discards it, counting; reports its port and count over IPC. */
async function runSink(): Promise<void> {
  let messages = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    maxClients: 1000,
    onData(stream, _session, callback) {
      stream.on('end', () => {
        messages++;
        callback();
      });
      stream.resume();
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as { port: number };
  process.send!({ port });
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'count') process.send!({ messages });
    if (m.cmd === 'close') server.close(() => process.exit(0));
  });
}

/** runNoop processes the no-op queue with one BullMQ Worker of the given concurrency until told to stop. */
async function runNoop(): Promise<void> {
  const [, , , redisUrl, prefix, queueName, concurrency] = process.argv;
  const connection = new IORedis(redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker(queueName, async () => undefined, {
    connection,
    prefix,
    concurrency: Number(concurrency),
    autorun: false,
  });
  worker.on('error', () => undefined);
  process.on('message', async (m: { cmd: string }) => {
    if (m.cmd === 'close') {
      await worker.close();
      connection.disconnect();
      process.exit(0);
    }
  });
  await worker.waitUntilReady();
  process.send!({ started: Date.now() });
  void worker.run();
}

function forkRole(role: string, args: string[] = []): ChildProcess {
  return fork(__filename, [role, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function nextMessage<T>(child: ChildProcess, key: string, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${key}" from child within ${timeoutMs} ms`)), timeoutMs);
    const on = (m: Record<string, unknown>) => {
      if (key in m) {
        clearTimeout(timer);
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Data

/**
 * seedStaff creates eight salespeople and an executive; seedTouches then creates `n` customers, each with a sale, a
 * first-year plan run on the default segment's plan and one touch of it due at `dueSql(i)`: by default (BENCH_MIX) 60 %
 * emails (step 1), 20 % letters (step 3, customers who prefer letters) and 20 % calls (step 2, every tenth one the
 * executive's step 7).
 */
async function seedStaff(pg: Pool): Promise<void> {
  await pg.query(`
    insert into staff (email, name, title, role)
    select 'seller' || i || '@bench.example', 'Seller ' || i, 'Sales consultant', 'salesperson' from generate_series(0, 7) i`);
  await pg.query(
    `insert into staff (email, name, title, role) values ('exec@bench.example', 'Eve Exec', 'Director', 'executive')`,
  );
}

async function seedTouches(pg: Pool, tag: string, n: number, dueSql: string, mix: BenchSettings['mix']): Promise<void> {
  await pg.query(`
    create unlogged table bench_rows as
    select i, gen_random_uuid() cid, gen_random_uuid() sid, gen_random_uuid() rid,
           case when i % 100 < ${mix.email} then 'email' when i % 100 < ${mix.email + mix.letter} then 'letter' else 'call' end as channel,
           (select id from staff where role = 'salesperson' order by email offset (i % 8) limit 1) as seller,
           ${dueSql} as due
    from generate_series(1, ${n}) i`);
  await pg.query(`
    insert into customers (id, source, external_id, first_name, last_name, email, phone, timezone, preferred_channel, address, referral_code, segment_id)
    select cid, 'bench', 'C-${tag}-' || i, 'Ann', 'Lee' || i, 'ann.${tag}.' || i || '@bench.example', '+61 2 5550 ' || i,
           case when i % 2 = 0 then 'Australia/Sydney' else 'Europe/London' end,
           case when channel = 'letter' then 'letter' else 'email' end,
           jsonb_build_object('lines', jsonb_build_array(i || ' Main St'), 'city', 'Sydney', 'region', 'NSW', 'postalCode', '2000', 'country', 'AU'),
           'R${tag}' || i, (select id from segments where is_default)
    from bench_rows`);
  await pg.query(`
    insert into sales (id, source, external_id, customer_id, salesperson_id, segment_id, sold_at, total_amount, currency, request_hash)
    select sid, 'bench', 'INV-${tag}-' || i, cid, seller, (select id from segments where is_default), due - interval '2 days', 1299.00, 'AUD', 'bench'
    from bench_rows`);
  await pg.query(`
    insert into sale_items (sale_id, sku, name, category, quantity, unit_price)
    select sid, 'SOFA-3', '3-seat sofa', 'furniture', 1, 1299.00 from bench_rows`);
  await pg.query(`
    insert into plan_runs (id, customer_id, sale_id, segment_id, kind, plan, started_at)
    select rid, cid, sid, s.id, 'first_year', s.plan, due - interval '2 days'
    from bench_rows, segments s where s.is_default`);
  await pg.query(`
    insert into touches (plan_run_id, customer_id, step, channel, sender_role, assignee_id, due_at)
    select rid, cid,
           case channel when 'email' then 1 when 'letter' then 3 else (case when i % 20 = 19 then 7 else 2 end) end,
           channel,
           case when channel = 'call' and i % 20 = 19 then 'executive' else 'salesperson' end,
           case when channel = 'call' and i % 20 = 19 then (select id from staff where role = 'executive') else seller end,
           due
    from bench_rows`);
  await pg.query('drop table bench_rows');
  await pg.query('analyze');
}

/** DoneCounts is, per channel, how many bench touches are recorded done and the time of the last. */
interface DoneCounts {
  [channel: string]: { total: number; done: number; other: number; last: Date | null };
}

// A letter is done once filed into a print batch (it stays queued until the batch is mailed); emails are sent and
// calls are sent (task created). Anything else final (failed, skipped, cancelled) is counted as `other`.
const DONE_SQL = `(t.status = 'sent' or (t.status = 'queued' and t.letter_batch_id is not null))`;
const FINAL_OTHER_SQL = `t.status in ('failed', 'skipped', 'cancelled', 'missed')`;

async function doneCounts(pg: Pool, since: Date): Promise<DoneCounts> {
  const { rows } = await pg.query(
    `select t.channel, count(*)::int total, count(*) filter (where ${DONE_SQL})::int done,
            count(*) filter (where ${FINAL_OTHER_SQL})::int other,
            max(coalesce(t.completed_at, t.updated_at)) filter (where ${DONE_SQL}) last
     from touches t where t.created_at >= $1 group by t.channel`,
    [since],
  );
  return Object.fromEntries(
    rows.map((r) => [r.channel, { total: r.total, done: r.done, other: r.other, last: r.last }]),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Processes

interface Workers {
  procs: ChildProcess[];
  stop(): Promise<void>;
}

function startWorkers(s: BenchSettings, env: NodeJS.ProcessEnv, logFile: string): Workers {
  const repoRoot = path.resolve(__dirname, '..', '..');
  const procs: ChildProcess[] = [];
  for (let i = 0; i < s.workers; i++) {
    const log = openSync(logFile, 'a');
    // BENCH_WORKER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the workers.
    const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    procs.push(
      spawn(process.execPath, [...nodeArgs, path.join(repoRoot, 'dist', 'main', 'worker.js')], {
        env,
        stdio: ['ignore', log, log],
      }),
    );
    closeSync(log);
  }
  return {
    procs,
    async stop() {
      await Promise.all(
        procs.map(async (p) => {
          if (p.exitCode !== null) return;
          const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
          p.kill('SIGTERM');
          const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        }),
      );
    },
  };
}

/** postgresCpu sums the CPU time of the server processes connected to the bench database. */
async function postgresCpu(pg: Pool, dbName: string): Promise<number> {
  const { rows } = await pg.query('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [
    dbName,
  ]);
  return rows.reduce((a, r) => a + (cpuSeconds(r.pid) || 0), 0);
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

async function usedMemory(redis: IORedis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

// ---------------------------------------------------------------------------------------------------------------
// Phases

/** rawBullmq measures no-op jobs/s: add `n` jobs, then drain them with `workers` processes of `concurrency`. */
async function rawBullmq(s: BenchSettings, redis: IORedis, runId: string, n: number): Promise<number> {
  const prefix = `bench-noop-${runId}`;
  const queue = new Queue('noop', { connection: redis, prefix });
  for (let i = 0; i < n; i += 1000) {
    const size = Math.min(1000, n - i);
    await queue.addBulk(
      Array.from({ length: size }, (_, k) => ({
        name: 'noop',
        data: { touchId: randomUUID() },
        opts: { ...TOUCH_JOB_OPTIONS, jobId: `noop-${i + k}` },
      })),
    );
  }
  const children = Array.from({ length: s.workers }, () =>
    forkRole('noop', [s.redisUrl, prefix, 'noop', String(s.concurrency)]),
  );
  const starts = await Promise.all(children.map((c) => nextMessage<{ started: number }>(c, 'started')));
  const t0 = Math.min(...starts.map((m) => m.started));
  for (;;) {
    const counts = await queue.getJobCounts('wait', 'active', 'prioritized', 'delayed', 'paused');
    if (Object.values(counts).every((c) => c === 0)) break;
    await sleep(20);
  }
  const seconds = (Date.now() - t0) / 1000;
  await Promise.all(
    children.map(async (c) => {
      const exited = new Promise((r) => c.once('exit', r));
      c.send({ cmd: 'close' });
      await exited;
    }),
  );
  await queue.obliterate({ force: true });
  await queue.close();
  return n / seconds;
}

async function waitAllDone(
  pg: Pool,
  since: Date,
  expected: number,
  timeoutMs: number,
  workers: Workers,
): Promise<DoneCounts> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = 0;
  for (;;) {
    const counts = await doneCounts(pg, since);
    const finished = Object.values(counts).reduce((a, c) => a + c.done + c.other, 0);
    if (finished >= expected) return counts;
    if (workers.procs.some((p) => p.exitCode !== null)) throw new Error('a worker process exited during the run');
    if (Date.now() > deadline)
      throw new Error(`only ${finished} of ${expected} touches finished within ${timeoutMs} ms`);
    if (Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      say(`  … ${finished} / ${expected} recorded`);
    }
    await sleep(250);
  }
}

async function main(): Promise<void> {
  const role = process.argv[2];
  if (role === 'sink') return runSink();
  if (role === 'noop') return runNoop();

  const s = settingsFrom(process.env);
  const runId = randomBytes(4).toString('hex');
  const dbName = `rapport_bench_dispatch_${runId}`;
  const dbUrl = databaseUrl(s.baseUrl, dbName);
  const logFile = path.join(os.tmpdir(), `rapport-bench-dispatch-${runId}.log`);
  say(`bench/dispatch: ${os.cpus().length} CPUs, load average ${load()}, database ${dbName}, worker log ${logFile}`);
  say(
    `settings: ${s.workers} worker process(es) × concurrency ${s.concurrency}, pool ${s.poolSize}, ` +
      `touches ${s.touches}, steady ${s.steadyRate}/s × ${s.steadySeconds} s, plans of ${s.planCustomers} customers`,
  );

  await ensureDatabaseExists(dbUrl);
  const kdb = createDatabase(dbUrl, 2);
  await migrateToLatest(kdb, path.join(path.resolve(__dirname, '..', '..'), 'migrations'));
  await kdb.destroy();
  const pg = new Pool({ connectionString: dbUrl, max: 4 });
  const redis = new IORedis(s.redisUrl, { maxRetriesPerRequest: null });
  const sink = forkRole('sink');
  const { port } = await nextMessage<{ port: number }>(sink, 'port');
  const prefix = `bench-dispatch-${runId}`;
  const workerEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: dbUrl,
    DATABASE_POOL_SIZE: String(s.poolSize),
    REDIS_URL: s.redisUrl,
    REDIS_PREFIX: prefix,
    SMTP_URL: `smtp://127.0.0.1:${port}`,
    SMTP_ALLOW_PLAINTEXT: 'true',
    WORKER_CONCURRENCY: String(s.concurrency),
    LOG_LEVEL: s.logLevel,
    RAPPORT_SECRET: randomBytes(32).toString('hex'),
    PUBLIC_URL: 'https://rapport.bench.example',
    ...(s.smtpConnections ? { SMTP_MAX_CONNECTIONS: String(s.smtpConnections) } : {}),
  };
  let workers: Workers | null = null;
  const summary: string[] = [];
  try {
    await seedStaff(pg);

    let raw = NaN;
    if (s.phases.has('raw')) {
      say(`\n[raw] ${s.touches} no-op BullMQ jobs, ${s.workers} process(es) × concurrency ${s.concurrency}`);
      raw = await rawBullmq(s, redis, runId, s.touches);
      line('raw BullMQ no-op jobs/s', raw.toFixed(0));
    }

    if (s.phases.has('burst')) {
      say(
        `\n[burst] seeding ${s.touches} due touches (${s.mix.email} % email, ${s.mix.letter} % letter, ${s.mix.call} % call)`,
      );
      const seedStart = Date.now();
      const since = new Date(Date.now() - 1000);
      await seedTouches(pg, `b${runId}`, s.touches, `now() - interval '1 minute'`, s.mix);
      say(`  seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s; starting the worker process(es)`);
      const sent0 = (await (sink.send({ cmd: 'count' }), nextMessage<{ messages: number }>(sink, 'messages'))).messages;
      const spawned = Date.now();
      workers = startWorkers(s, workerEnv, logFile);
      const counts = await waitAllDone(pg, since, s.touches, 30 * 60_000, workers);
      const { rows } = await pg.query(
        `select min(at) first from touch_events where status = 'queued' and actor = 'scheduler' and at >= $1`,
        [since],
      );
      const firstClaim: Date = rows[0].first;
      const sent =
        (await (sink.send({ cmd: 'count' }), nextMessage<{ messages: number }>(sink, 'messages'))).messages - sent0;
      // CPU per touch does not depend on what else the machine runs, so it shows the cost when the wall clock cannot.
      const workerCpu = workers.procs.reduce((a, p) => a + (cpuSeconds(p.pid) || 0), 0);
      const pgCpu = await postgresCpu(pg, dbName);
      const all = Object.values(counts);
      const lastAll = Math.max(...all.map((c) => c.last?.getTime() ?? 0));
      const total = all.reduce((a, c) => a + c.done, 0);
      line('worker boot (spawn → first claim)', `${((firstClaim.getTime() - spawned) / 1000).toFixed(2)} s`);
      line(
        'all recorded (first claim → last)',
        `${((lastAll - firstClaim.getTime()) / 1000).toFixed(2)} s for ${total} touches (${(total / ((lastAll - firstClaim.getTime()) / 1000)).toFixed(0)}/s)`,
      );
      const rates: Record<string, number> = {};
      for (const ch of ['email', 'letter', 'call']) {
        const c = counts[ch];
        if (!c) continue;
        const secs = ((c.last?.getTime() ?? 0) - firstClaim.getTime()) / 1000;
        rates[ch] = c.done / secs;
        line(
          `${ch}s/s`,
          `${rates[ch].toFixed(0)} (${c.done} done${c.other ? `, ${c.other} failed/skipped` : ''} in ${secs.toFixed(2)} s)`,
        );
      }
      line('emails accepted by the SMTP sink', `${sent}`);
      line(
        'CPU per touch: worker / postgres',
        `${((workerCpu * 1000) / total).toFixed(2)} / ${((pgCpu * 1000) / total).toFixed(2)} ms (incl. boot)`,
      );
      line('load average (1/5/15 min) at end', load());
      if (Number.isFinite(raw)) {
        line('letters/s ÷ raw', (rates.letter / raw).toFixed(2));
        line('calls/s ÷ raw', (rates.call / raw).toFixed(2));
      }
      summary.push(
        `burst: emails ${rates.email?.toFixed(0)}/s, letters ${rates.letter?.toFixed(0)}/s, calls ${rates.call?.toFixed(0)}/s, raw ${raw.toFixed(0)}/s; ` +
          `goals: emails ≥ 1000 ${rates.email >= 1000 ? 'met' : 'MISSED'}, letters ≥ raw/2 ${rates.letter >= raw / 2 ? 'met' : 'MISSED'}, calls ≥ raw/2 ${rates.call >= raw / 2 ? 'met' : 'MISSED'}`,
      );
    }

    if (s.phases.has('steady')) {
      const n = Math.round(s.steadyRate * s.steadySeconds);
      if (!workers) workers = startWorkers(s, workerEnv, logFile);
      say(`\n[steady] ${n} touches due over ${s.steadySeconds} s (${s.steadyRate}/s), starting in 5 s`);
      const since = new Date();
      // Due times are spread evenly from 5 s ahead, so the scheduler sees them inside its horizon and adds them delayed.
      await seedTouches(
        pg,
        `s${runId}`,
        n,
        `now() + interval '5 seconds' + (i - 1) * interval '1 millisecond' * ${1000 / s.steadyRate}`,
        s.mix,
      );
      await waitAllDone(pg, since, n, (s.steadySeconds + 600) * 1000, workers);
      const { rows } = await pg.query(
        `select percentile_cont(array[0.5, 0.99, 1.0]) within group (order by extract(epoch from coalesce(t.completed_at, t.updated_at) - t.due_at)) p,
                count(*)::int n
         from touches t where t.created_at >= $1 and ${DONE_SQL}`,
        [since],
      );
      const [p50, p99, max] = rows[0].p as number[];
      const byChannel = await pg.query(
        `select channel, percentile_cont(0.99) within group (order by extract(epoch from coalesce(t.completed_at, t.updated_at) - t.due_at)) p99
         from touches t where t.created_at >= $1 and ${DONE_SQL} group by channel order by channel`,
        [since],
      );
      line(
        'lateness p50 / p99 / max',
        `${(p50 * 1000).toFixed(0)} / ${(p99 * 1000).toFixed(0)} / ${(max * 1000).toFixed(0)} ms (${rows[0].n} touches)`,
      );
      line('p99 by channel', byChannel.rows.map((r) => `${r.channel} ${(r.p99 * 1000).toFixed(0)} ms`).join(', '));
      summary.push(
        `steady ${s.steadyRate}/s: lateness p50 ${(p50 * 1000).toFixed(0)} ms, p99 ${(p99 * 1000).toFixed(0)} ms; goal p99 < 1 s ${p99 < 1 ? 'met' : 'MISSED'}`,
      );
    }
    if (workers) {
      await workers.stop();
      workers = null;
    }

    if (s.phases.has('memory')) {
      say(`\n[memory] the plans of ${s.planCustomers} customers (${s.planCustomers * 7} touches) in Postgres`);
      const seedStart = Date.now();
      await seedPlans(pg, s.planCustomers);
      say(`  seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);
      const { rows } = await pg.query(
        `select count(*)::int n, count(*) filter (where status = 'scheduled')::int scheduled from touches where step between 1 and 7 and customer_id in (select id from customers where source = 'bench-plans')`,
      );
      line('plan touches / still scheduled', `${rows[0].n} / ${rows[0].scheduled}`);
      const memPrefix = `bench-memory-${runId}`;
      const before = await usedMemory(redis);
      workers = startWorkers(s, { ...workerEnv, REDIS_PREFIX: memPrefix }, logFile);
      // Several scheduler runs: the horizon's touches are added (delayed) and the due ones delivered.
      await sleep(15_000);
      const after = await usedMemory(redis);
      const q = new Queue('email', { connection: redis, prefix: memPrefix });
      const jobs = await Promise.all(
        ['email', 'letter', 'call', 'newsletter'].map(async (name) => {
          const queue = new Queue(name, { connection: redis, prefix: memPrefix });
          const c = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
          await queue.close();
          return Object.values(c).reduce((a, b) => a + b, 0);
        }),
      );
      await q.close();
      await workers.stop();
      workers = null;
      const keys = (await redis.keys(`${memPrefix}:*`)).length;
      line(
        'Redis used_memory delta (workers)',
        `${mb(after - before)} (${keys} keys, ${jobs.reduce((a, b) => a + b, 0)} touch jobs waiting/delayed)`,
      );

      // The alternative: one delayed job per touch, as if every planned contact were added to BullMQ when planned.
      const delayedPrefix = `bench-delayed-${runId}`;
      const dq = new Queue('email', { connection: redis, prefix: delayedPrefix });
      const d0 = await usedMemory(redis);
      for (let i = 0; i < s.delayedJobs; i += 1000) {
        const size = Math.min(1000, s.delayedJobs - i);
        await dq.addBulk(
          Array.from({ length: size }, () => {
            const touchId = randomUUID();
            return {
              name: 'deliver',
              data: { touchId },
              opts: {
                ...TOUCH_JOB_OPTIONS,
                jobId: touchJobId(touchId),
                delay: 60_000 + Math.floor(Math.random() * 365 * 86_400_000),
              },
            };
          }),
        );
      }
      const d1 = await usedMemory(redis);
      await dq.obliterate({ force: true });
      await dq.close();
      const perJob = (d1 - d0) / s.delayedJobs;
      line(`${s.delayedJobs} delayed jobs`, `${mb(d1 - d0)} (${perJob.toFixed(0)} bytes per job)`);
      line(`→ extrapolated to ${s.planCustomers * 7} jobs`, mb(perJob * s.planCustomers * 7));
      summary.push(
        `memory: ${mb(after - before)} with ${s.planCustomers} customers' plans scheduled (goal < 64 MB ${after - before < 64 * 1024 * 1024 ? 'met' : 'MISSED'}); ` +
          `one delayed job per touch: ${perJob.toFixed(0)} B/job → ${mb(perJob * s.planCustomers * 7)} for ${s.planCustomers * 7}`,
      );
    }
    say('\nsummary');
    for (const l of summary) say(`  ${l}`);
  } finally {
    if (workers) await workers.stop();
    sink.send({ cmd: 'close' });
    await pg.end();
    for (const p of [`bench-dispatch-${runId}`, `bench-memory-${runId}`]) {
      const keys = await redis.keys(`${p}:*`);
      for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    }
    redis.disconnect();
    if (!s.keep) await dropDatabase(s.baseUrl, dbName);
  }
}

/**
 * seedPlans stores `n` customers' first-year plans the way they sit between sales: each sold on a day of the past
 * year, seven touches at the default plan's offsets; past ones recorded done, future ones scheduled.
 */
async function seedPlans(pg: Pool, n: number): Promise<void> {
  const chunk = 250_000;
  for (let from = 1; from <= n; from += chunk) {
    const to = Math.min(n, from + chunk - 1);
    await pg.query(`
      create unlogged table plan_rows as
      select i, gen_random_uuid() cid, gen_random_uuid() rid,
             now() - (random() * 365) * interval '1 day' as sold,
             (select id from staff where role = 'salesperson' order by email offset (i % 8) limit 1) as seller
      from generate_series(${from}, ${to}) i`);
    await pg.query(`
      insert into customers (id, source, external_id, first_name, last_name, email, timezone, preferred_channel, referral_code, segment_id)
      select cid, 'bench-plans', 'P-' || i, 'Pat', 'Plan' || i, 'pat.' || i || '@plans.bench.example', 'Australia/Sydney', 'email', 'P' || i,
             (select id from segments where is_default)
      from plan_rows`);
    await pg.query(`
      insert into plan_runs (id, customer_id, segment_id, kind, plan, started_at)
      select rid, cid, s.id, 'first_year', s.plan, sold from plan_rows, segments s where s.is_default`);
    await pg.query(`
      insert into touches (plan_run_id, customer_id, step, channel, sender_role, assignee_id, due_at, status, completed_at)
      select rid, cid, o.step, o.channel, 'salesperson', seller, sold + o.off,
             case when sold + o.off > now() then 'scheduled' else 'sent' end,
             case when sold + o.off > now() then null else sold + o.off end
      from plan_rows,
           (values (1, 'email', interval '2 days'), (2, 'call', interval '7 days'), (3, 'email', interval '1 month'),
                   (4, 'email', interval '3 months'), (5, 'email', interval '6 months'), (6, 'email', interval '9 months'),
                   (7, 'call', interval '1 year')) as o(step, channel, off)`);
    await pg.query('drop table plan_rows');
  }
  await pg.query('analyze');
}

main().catch((err) => {
  process.stderr.write(`bench/dispatch failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
