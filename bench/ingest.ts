/**
 * bench/ingest: how many sales per second POST /v1/sales sustains at 64 connections against the real API and the
 * real Postgres, compared with pgbench's TPC-B TPS on the same server. Run with `npm run bench:ingest`
 * (see bench/README.md for the settings and BENCHMARKS.md for the figures).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { sql } from 'kysely';
import { createDatabase, ensureDatabaseExists, type Database } from '../src/db/database';
import { migrateToLatest } from '../src/db/migrator';
import { insertStaff } from '../src/db/repositories/staff.repository';
import { createApiKey } from '../src/services/auth.service';
import { databaseUrl, dropDatabase } from './scratch';

const run = promisify(execFile);

/** BenchSettings are the knobs of one run, from the environment (see bench/README.md). */
interface BenchSettings {
  baseUrl: string;
  connections: number;
  duration: number;
  warmup: number;
  pgbenchScale: number;
  pgbenchDuration: number;
  pgbenchJobs: number;
  logLevel: string;
  keep: boolean;
}

function settingsFrom(env: NodeJS.ProcessEnv): BenchSettings {
  const num = (name: string, fallback: number) => {
    const value = env[name] ? Number(env[name]) : fallback;
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
    return value;
  };
  return {
    baseUrl: env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    connections: num('BENCH_CONNECTIONS', 64),
    duration: num('BENCH_DURATION', 20),
    warmup: num('BENCH_WARMUP', 3),
    pgbenchScale: num('BENCH_PGBENCH_SCALE', 10),
    pgbenchDuration: num('BENCH_PGBENCH_DURATION', 20),
    pgbenchJobs: num('BENCH_PGBENCH_JOBS', 2),
    logLevel: env.LOG_LEVEL || 'info',
    keep: env.BENCH_KEEP === '1',
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilHealthy(url: string, api: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (api.exitCode !== null) throw new Error(`the API exited with status ${api.exitCode} before it was healthy`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the API at ${url} was not healthy after ${timeoutMs} ms`);
}

async function stopApi(api: ChildProcess): Promise<void> {
  if (api.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => api.once('exit', () => resolve()));
  api.kill('SIGTERM');
  const timer = setTimeout(() => api.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const SALESPEOPLE = Array.from({ length: 8 }, (_, i) => ({ email: `seller${i}@bench.example`, name: `Seller ${i}` }));
const PRODUCTS = [
  { sku: 'SOFA-3', name: '3-seat sofa', category: 'furniture', unitPrice: '1299.00' },
  { sku: 'LAMP-1', name: 'Floor lamp', category: 'lighting', unitPrice: '149.50' },
  { sku: 'RUG-2', name: 'Wool rug', category: 'textiles', unitPrice: '420.00' },
];

/** saleBody is the n-th distinct sale of this run: its own externalId and its own new customer. */
function saleBody(runId: string, n: number, soldAt: string): string {
  const product = PRODUCTS[n % PRODUCTS.length];
  const quantity = 1 + (n % 2);
  return JSON.stringify({
    externalId: `INV-${runId}-${n}`,
    source: 'bench-pos',
    soldAt,
    total: { amount: (Number(product.unitPrice) * quantity).toFixed(2), currency: 'AUD' },
    items: [{ ...product, quantity }],
    customer: {
      externalId: `C-${runId}-${n}`,
      firstName: 'Ann',
      lastName: `Lee${n}`,
      email: `ann.${runId}.${n}@bench.example`,
      phone: `+61 ${parseInt(runId.slice(0, 4), 16)} ${n}`,
      timezone: n % 2 ? 'Australia/Sydney' : 'Europe/London',
      preferredChannel: n % 3 === 0 ? 'letter' : 'email',
      address: { lines: [`${n} Main St`], city: 'Sydney', region: 'NSW', postalCode: '2000', country: 'AU' },
    },
    salesperson: SALESPEOPLE[n % SALESPEOPLE.length],
  });
}

function pgArgs(url: string): string[] {
  const u = new URL(url);
  const args = ['-h', u.hostname, '-p', u.port || '5432'];
  if (u.username) args.push('-U', decodeURIComponent(u.username));
  return args;
}

function pgEnv(url: string): NodeJS.ProcessEnv {
  const u = new URL(url);
  return u.password ? { ...process.env, PGPASSWORD: decodeURIComponent(u.password) } : process.env;
}

/** PgbenchResult is TPC-B throughput and mean latency as pgbench reports them. */
interface PgbenchResult {
  tps: number;
  latencyMs: number;
}

async function runPgbench(s: BenchSettings): Promise<PgbenchResult> {
  const name = `rapport_bench_pgbench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: s.baseUrl });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  try {
    const conn = [...pgArgs(s.baseUrl), name];
    await run('pgbench', ['-i', '-q', '-s', String(s.pgbenchScale), ...conn], { env: pgEnv(s.baseUrl) });
    const args = ['-c', String(s.connections), '-j', String(s.pgbenchJobs), '-T', String(s.pgbenchDuration), ...conn];
    process.stdout.write(`pgbench ${args.join(' ')}\n`);
    const { stdout } = await run('pgbench', args, { env: pgEnv(s.baseUrl), maxBuffer: 16 * 1024 * 1024 });
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
    const latency = /latency average = ([\d.]+) ms/.exec(stdout);
    if (!tps) throw new Error(`could not read the TPS from pgbench's output:\n${stdout}`);
    return { tps: Number(tps[1]), latencyMs: latency ? Number(latency[1]) : NaN };
  } finally {
    if (!s.keep) await dropDatabase(s.baseUrl, name);
  }
}

async function main(): Promise<void> {
  const s = settingsFrom(process.env);
  const runId = randomBytes(4).toString('hex');
  const dbName = `rapport_bench_ingest_${runId}`;
  const dbUrl = databaseUrl(s.baseUrl, dbName);
  const repoRoot = path.resolve(__dirname, '..', '..');
  const logFile = path.join(os.tmpdir(), `rapport-bench-ingest-${runId}.log`);
  process.stdout.write(`bench/ingest: ${os.cpus().length} CPUs, database ${dbName}, API log ${logFile}\n`);

  await ensureDatabaseExists(dbUrl);
  const db = createDatabase(dbUrl, 2);
  let api: ChildProcess | null = null;
  try {
    await migrateToLatest(db, path.join(repoRoot, 'migrations'));
    const { key: posKey } = await createApiKey(db, { name: 'bench pos', role: 'pos' });
    await insertStaff(db, { email: 'exec@bench.example', name: 'Eve Exec', role: 'executive' });

    // The API runs in its own process (the production entry point), so autocannon never shares its event loop.
    const port = await freePort();
    const log = openSync(logFile, 'a');
    const nodeArgs = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean);
    api = spawn(process.execPath, [...nodeArgs, path.join(repoRoot, 'dist', 'main', 'api.js')], {
      env: {
        ...process.env,
        DATABASE_URL: dbUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: s.logLevel,
        RAPPORT_ADMIN_KEY: `bench-admin-${randomBytes(12).toString('hex')}`,
        RAPPORT_SECRET: randomBytes(32).toString('hex'),
        RAPPORT_RATE_LIMIT_PER_KEY: '0', // the bench measures throughput, not the limit
      },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const url = `http://127.0.0.1:${port}`;
    await waitUntilHealthy(url, api, 30_000);

    const soldAt = new Date(Date.now() - 3600_000).toISOString();
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${posKey}` };
    const first = await fetch(`${url}/v1/sales`, { method: 'POST', headers, body: saleBody(runId, 0, soldAt) });
    const firstBody = (await first.json()) as { touches?: unknown[] };
    if (first.status !== 201 || firstBody.touches?.length !== 7) {
      throw new Error(`a sanity sale got ${first.status}: ${JSON.stringify(firstBody)}`);
    }

    let next = 1;
    const requests = [
      {
        method: 'POST',
        path: '/v1/sales',
        headers,
        setupRequest: (req: autocannon.Request) => ({ ...req, body: saleBody(runId, next++, soldAt) }),
      },
    ];
    if (s.warmup > 0) {
      process.stdout.write(`warm-up: ${s.warmup} s at ${s.connections} connections\n`);
      await autocannon({ url, connections: s.connections, duration: s.warmup, requests });
    }
    const salesBefore = await countSales(db);
    process.stdout.write(
      `autocannon: POST /v1/sales, ${s.connections} connections, ${s.duration} s, LOG_LEVEL=${s.logLevel}\n`,
    );
    const result = await autocannon({ url, connections: s.connections, duration: s.duration, requests });
    const stored = (await countSales(db)) - salesBefore;
    await stopApi(api);
    api = null;

    const ok = result['2xx'];
    const salesPerSecond = ok / result.duration;
    const errors = result.non2xx + result.errors;
    const codes = Object.entries(result.statusCodeStats)
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, { count }]) => `${code}×${count}`)
      .join(' ');

    const pg = await runPgbench(s);
    const ratio = salesPerSecond / pg.tps;
    const line = (label: string, value: string) => process.stdout.write(`${label.padEnd(26)}${value}\n`);
    // The machine may be shared: its load says how far the figures can be trusted.
    line(
      'load average (1/5/15 min)',
      os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' '),
    );
    process.stdout.write('\n');
    line('sales/s (2xx only)', salesPerSecond.toFixed(1));
    line('sales stored', `${stored} (2xx answered: ${ok})`);
    line(
      'errors',
      `${errors} (non-2xx ${result.non2xx}${codes ? `: ${codes}` : ''}; connection errors ${result.errors}, timeouts ${result.timeouts})`,
    );
    line('latency p50 / p99 / max', `${result.latency.p50} / ${result.latency.p99} / ${result.latency.max} ms`);
    line('pgbench TPC-B TPS', `${pg.tps.toFixed(1)} (latency average ${pg.latencyMs} ms)`);
    line('ratio sales/s ÷ TPS', ratio.toFixed(3));
    const met = ratio >= 0.5 && result.latency.p99 < 50 && errors === 0;
    line('goal (≥ 0.5, p99 < 50 ms)', met ? 'met' : 'MISSED');
    process.stdout.write(
      `\n| ${salesPerSecond.toFixed(0)} | ${result.latency.p50} | ${result.latency.p99} | ${pg.tps.toFixed(0)} | ${ratio.toFixed(2)} | ${errors} |\n`,
    );
    // Requests still in flight when autocannon stops are stored but not counted; fewer stored than answered is a bug.
    if (stored < ok) process.stdout.write(`warning: ${ok} sales answered 2xx but only ${stored} were stored\n`);
  } finally {
    if (api) await stopApi(api);
    await db.destroy();
    if (!s.keep) await dropDatabase(s.baseUrl, dbName);
  }
}

main().catch((err) => {
  process.stderr.write(`bench/ingest failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});

async function countSales(db: Database): Promise<number> {
  const { n } = await db
    .selectFrom('sales')
    .select(sql<number>`count(*)::int`.as('n'))
    .executeTakeFirstOrThrow();
  return n;
}
