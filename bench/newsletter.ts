/**
 * bench/newsletter: one newsletter edition to BENCH_CUSTOMERS (default 100,000) later-years customers, bulk-inserted
 * with SQL into a scratch database, fanned out and delivered by the real worker process (`node dist/main/worker.js`,
 * its repeating maintenance jobs as in production) into an SMTP sink in this process. Reports the fan-out time, the
 * delivery rate (emails/s), the end-to-end time, and the worker's peak RSS (VmHWM from /proc). Run with
 * `npm run bench:newsletter`; figures go to BENCHMARKS.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { sql } from 'kysely';
import { SMTPServer } from 'smtp-server';
import { createDatabase, ensureDatabaseExists, type Database } from '../src/db/database';
import { migrateToLatest } from '../src/db/migrator';
import { createLogger } from '../src/logger';
import { getNewsletter, publishNewsletter } from '../src/services/newsletter.service';
import { benchContext, cpuSeconds, databaseUrl, dropDatabase } from './scratch';

/** BenchSettings are the knobs of one run, from the environment. */
interface BenchSettings {
  baseUrl: string;
  redisUrl: string;
  customers: number;
  concurrency: number;
  poolSize: number;
  timeoutS: number;
  keep: boolean;
}

function settingsFrom(env: NodeJS.ProcessEnv): BenchSettings {
  const num = (name: string, fallback: number) => {
    const value = env[name] ? Number(env[name]) : fallback;
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
    return value;
  };
  return {
    baseUrl: env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
    customers: num('BENCH_CUSTOMERS', 100_000),
    concurrency: num('BENCH_CONCURRENCY', 16),
    poolSize: num('BENCH_POOL_SIZE', 10),
    timeoutS: num('BENCH_TIMEOUT_S', 1800),
    keep: env.BENCH_KEEP === '1',
  };
}

/** Sink is an SMTP server that accepts everything and only counts, so it is never the bottleneck. */
interface Sink {
  url: string;
  received: number;
  recipients: Set<string>;
  firstAt: number | null;
  lastAt: number | null;
  sampleHeaders: string | null;
  close(): Promise<void>;
}

async function startSink(): Promise<Sink> {
  const sink: Sink = {
    url: '',
    received: 0,
    recipients: new Set(),
    firstAt: null,
    lastAt: null,
    sampleHeaders: null,
    close: async () => undefined,
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 1024 * 1024,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => {
        if (sink.sampleHeaders === null) chunks.push(c);
      });
      stream.on('end', () => {
        const now = Date.now();
        sink.received++;
        sink.firstAt ??= now;
        sink.lastAt = now;
        for (const r of session.envelope.rcptTo) sink.recipients.add(r.address);
        if (sink.sampleHeaders === null) {
          const raw = Buffer.concat(chunks).toString('utf8');
          sink.sampleHeaders = raw.slice(0, raw.search(/\r?\n\r?\n/)).replace(/\r?\n[ \t]+/g, ' ');
        }
        callback(null, 'ok');
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  server.on('error', () => undefined);
  sink.url = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  sink.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return sink;
}

/** seed bulk-inserts later-years customers, each with one sale of a year and a half ago, in one SQL statement each. */
async function seed(db: Database, n: number): Promise<void> {
  const { id: segmentId } = await db
    .selectFrom('segments')
    .select('id')
    .where('isDefault', '=', true)
    .executeTakeFirstOrThrow();
  await sql`
    insert into customers (source, external_id, first_name, last_name, email, timezone, referral_code, segment_id, program)
    select 'bench', 'C-' || g, 'Ann', 'Lee' || g, 'ann.' || g || '@bench.example',
           case when g % 2 = 0 then 'Australia/Sydney' else 'Europe/London' end,
           'BN' || lpad(g::text, 8, '0'), ${segmentId}::uuid, 'later_years'
    from generate_series(1, ${n}::int) g`.execute(db);
  await sql`
    insert into sales (source, external_id, customer_id, segment_id, sold_at, total_amount, currency, request_hash)
    select 'bench', 'INV-' || c.external_id, c.id, c.segment_id, now() - interval '18 months', 1299.00, 'AUD', 'bench'
    from customers c where c.source = 'bench'`.execute(db);
  await sql`
    insert into sale_items (sale_id, sku, name, category, quantity, unit_price)
    select s.id, 'SOFA-3', '3-seat sofa', 'furniture', 1, 1299.00 from sales s where s.source = 'bench'`.execute(db);
  await sql`analyze`.execute(db);
}

/** procStatus reads VmRSS and VmHWM (peak resident set) of a process, in MiB. */
function procStatus(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

async function stopWorker(worker: ChildProcess): Promise<void> {
  if (worker.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.kill('SIGTERM');
  const timer = setTimeout(() => worker.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new IORedis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const s = settingsFrom(process.env);
  const runId = randomBytes(4).toString('hex');
  const dbName = `rapport_bench_newsletter_${runId}`;
  const dbUrl = databaseUrl(s.baseUrl, dbName);
  const prefix = `rapport_bench_newsletter_${runId}`;
  const repoRoot = path.resolve(__dirname, '..', '..');
  const logFile = path.join(os.tmpdir(), `rapport-bench-newsletter-${runId}.log`);
  const line = (label: string, value: string) => process.stdout.write(`${label.padEnd(30)}${value}\n`);
  process.stdout.write(
    `bench/newsletter: ${os.cpus().length} CPUs, ${s.customers} customers, database ${dbName}, worker log ${logFile}\n`,
  );

  await ensureDatabaseExists(dbUrl);
  const db = createDatabase(dbUrl, 2);
  const sink = await startSink();
  let worker: ChildProcess | null = null;
  let sampler: NodeJS.Timeout | undefined;
  try {
    await migrateToLatest(db, path.join(repoRoot, 'migrations'));
    const seeded = Date.now();
    await seed(db, s.customers);
    line('seeded', `${s.customers} customers and sales in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);

    const secret = randomBytes(32).toString('hex');
    const log = openSync(logFile, 'a');
    const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    worker = spawn(process.execPath, [...nodeArgs, path.join(repoRoot, 'dist', 'main', 'worker.js')], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: dbUrl,
        DATABASE_POOL_SIZE: String(s.poolSize),
        REDIS_URL: s.redisUrl,
        REDIS_PREFIX: prefix,
        SMTP_URL: sink.url,
        SMTP_ALLOW_PLAINTEXT: 'true',
        LOG_LEVEL: 'info',
        WORKER_CONCURRENCY: String(s.concurrency),
        PUBLIC_URL: 'https://shop.bench.example',
        RAPPORT_SECRET: secret,
        RAPPORT_BUSINESS_NAME: 'Bench Shop',
        RAPPORT_MAIL_FROM: 'Bench Shop <news@shop.bench.example>',
      },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const pid = worker.pid!;
    let peakSampledRss = 0;
    sampler = setInterval(() => {
      const st = procStatus(pid);
      if (st) peakSampledRss = Math.max(peakSampledRss, st.rss);
    }, 250);
    // Let the worker boot and register its repeating jobs before the edition falls due.
    await new Promise((r) => setTimeout(r, 2000));
    if (worker.exitCode !== null) throw new Error(`the worker exited with status ${worker.exitCode}; see ${logFile}`);
    const idle = procStatus(pid);
    const cpuBefore = cpuSeconds(pid);

    const ctx = benchContext(
      db,
      {
        publicUrl: 'https://shop.bench.example',
        identity: {
          name: 'Bench Shop',
          address: null,
          phone: '+61 2 5550 1000',
          website: null,
          emailFrom: 'Bench Shop <hello@shop.bench.example>',
        },
        secret,
      },
      createLogger('silent'),
    );
    const published = Date.now();
    const edition = await publishNewsletter(
      ctx,
      {
        subject: 'Autumn news for you, {{ customer.firstName }}',
        body: 'Dear {{ customer.firstName }},\n\nA few ideas for your {{ sale.mainItem }} this season.\n\nThank you for staying with us.',
        sendAt: new Date(published).toISOString(),
      },
      'bench',
    );

    const deadline = published + s.timeoutS * 1000;
    let last = -1;
    for (;;) {
      if (worker.exitCode !== null) throw new Error(`the worker exited with status ${worker.exitCode}; see ${logFile}`);
      const n = await getNewsletter(ctx, edition.id);
      if (n.status === 'sent' && sink.received >= n.counts.sent) break;
      if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(n.counts)}, sink ${sink.received}`);
      if (sink.received !== last && sink.received % 10_000 < 500)
        process.stdout.write(`  ... ${sink.received} delivered\n`);
      last = sink.received;
      await new Promise((r) => setTimeout(r, 500));
    }
    const peak = procStatus(pid);
    const cpuUsed = cpuSeconds(pid) - cpuBefore;
    clearInterval(sampler);
    await stopWorker(worker);
    worker = null;

    const n = await getNewsletter(ctx, edition.id);
    const { rows } = await sql<{ first: Date; last: Date }>`
      select min(created_at) as first, max(created_at) as last from touches where newsletter_id = ${edition.id}::uuid`.execute(
      db,
    );
    const fanStart = rows[0]!.first.getTime();
    const fanOutS = (n.fannedOutAt!.getTime() - fanStart) / 1000;
    const deliveryS = (sink.lastAt! - sink.firstAt!) / 1000;
    const endToEndS = (sink.lastAt! - published) / 1000;
    process.stdout.write('\n');
    line('recipients / capped', `${n.counts.recipients} / ${n.counts.capped}`);
    line('touches sent / failed', `${n.counts.sent} / ${n.counts.failed}`);
    line('emails received (distinct)', `${sink.received} (${sink.recipients.size})`);
    line(
      'publish -> fan-out start',
      `${((fanStart - published) / 1000).toFixed(1)} s (the newsletters task runs every 10 s)`,
    );
    line(
      'fan-out',
      `${fanOutS.toFixed(1)} s (${(n.counts.recipients / fanOutS).toFixed(0)} touches/s, batches of 1,000)`,
    );
    line('first -> last email', `${deliveryS.toFixed(1)} s (${(sink.received / deliveryS).toFixed(0)} emails/s)`);
    line(
      'publish -> last email',
      `${endToEndS.toFixed(1)} s (${(sink.received / endToEndS).toFixed(0)} emails/s overall)`,
    );
    line(
      'worker CPU',
      `${cpuUsed.toFixed(1)} s (${((cpuUsed * 1000) / sink.received).toFixed(2)} ms per email; ${os.cpus().length} CPUs shared with Postgres, Redis and the sink)`,
    );
    line(
      'worker RSS idle / peak',
      `${idle?.rss.toFixed(0)} MiB / ${peak?.hwm.toFixed(0)} MiB (VmHWM; sampled max ${peakSampledRss.toFixed(0)} MiB)`,
    );
    line(
      'one-click header present',
      String(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click/im.test(sink.sampleHeaders ?? '')),
    );
    process.stdout.write(
      `\n| ${s.customers} | ${s.concurrency} | ${fanOutS.toFixed(1)} | ${deliveryS.toFixed(1)} | ${(sink.received / deliveryS).toFixed(0)} | ${endToEndS.toFixed(1)} | ${peak?.hwm.toFixed(0)} |\n`,
    );
    if (sink.received !== s.customers || sink.recipients.size !== s.customers) {
      throw new Error(
        `expected ${s.customers} distinct emails, got ${sink.received} (${sink.recipients.size} distinct)`,
      );
    }
  } finally {
    clearInterval(sampler);
    if (worker) await stopWorker(worker);
    await sink.close();
    await db.destroy();
    await deleteRedisPrefix(s.redisUrl, prefix);
    if (!s.keep) await dropDatabase(s.baseUrl, dbName);
  }
}

main().catch((err) => {
  process.stderr.write(`bench/newsletter failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
