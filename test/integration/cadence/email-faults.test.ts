/**
 * Fault tests of email delivery with real worker processes (`node <build>/main/worker.js`), each asserting on the
 * mail the in-process SMTP server received and on Postgres: a worker killed with SIGKILL mid-batch and restarted,
 * Redis keys deleted mid-run, the worker's Postgres connections cut mid-run, two workers at once, and an ordered
 * shutdown on SIGTERM with a send in flight.
 * The workers run on the wall clock, so the touches are inserted due a moment ago.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import IORedis from 'ioredis';
import { sql } from 'kysely';
import { fixedClock } from '../../../src/clock';
import { recordSale } from '../../../src/services/sale.service';
import { saleBody, testContext, TEST_SETTINGS } from '../../helpers/app';
import { createTestDatabase, uniqueName, type TestDatabase } from '../../helpers/database';
import { startSmtpServer, type ReceivedMessage, type TestSmtpServer } from '../../helpers/smtp';
import { deleteRedisPrefix, REDIS_URL } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';
import type { SaleInput } from '../../../src/services/sale-input';

// Child processes under a full parallel suite on two cores: deadlines are generous, a pass is usually seconds.
jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '../../..');
const CONCURRENCY = 16;
let workerJs = '';

let database: TestDatabase;
let smtp: TestSmtpServer;
let template: { planRunId: string; saleId: string; segmentId: string; plan: unknown };
const children = new Set<Worker>();
const prefixes: string[] = [];

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * buildWorker compiles src once per source version, apart from dist/ (so it never races anyone's `npm run build`),
 * into node_modules/.cache/rapport-worker-<version>/dist next to a link to migrations/, which the migrator finds
 * as ../migrations from there. Concurrent builders each write their own copy and the first rename wins.
 */
function buildWorker(): string {
  const home = path.join(
    ROOT,
    'node_modules/.cache',
    `rapport-worker-${Math.floor(newestSource(path.join(ROOT, 'src')))}`,
  );
  const worker = path.join(home, 'dist/main/worker.js');
  if (existsSync(worker)) return worker;
  // Builds of older sources pile up otherwise; one untouched for an hour is no longer in use by any run.
  const cache = path.dirname(home);
  for (const old of existsSync(cache) ? readdirSync(cache).filter((d) => d.startsWith('rapport-worker-')) : []) {
    if (statSync(path.join(cache, old)).mtimeMs < Date.now() - 3600_000)
      rmSync(path.join(cache, old), { recursive: true, force: true });
  }
  mkdirSync(home, { recursive: true });
  if (!existsSync(path.join(home, 'migrations')))
    symlinkSync(path.join(ROOT, 'migrations'), path.join(home, 'migrations'));
  const tmp = path.join(home, `dist.${process.pid}`);
  try {
    execFileSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', tmp],
      { cwd: ROOT, stdio: 'pipe' },
    );
  } catch (err) {
    // tsc still emits when another part of the tree has type errors; only a missing worker is fatal here.
    if (!existsSync(path.join(tmp, 'main/worker.js'))) throw err;
  }
  try {
    renameSync(tmp, path.join(home, 'dist'));
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another run finished first
  }
  return worker;
}

interface Worker {
  child: ChildProcess;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** spawnWorker starts a worker process on the test database, Redis prefix and SMTP server. */
function spawnWorker(prefix: string, o: { smtpUrl?: string; logLevel?: string } = {}): Worker {
  const child = spawn(process.execPath, [workerJs], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: database.url,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      SMTP_URL: o.smtpUrl ?? smtp.url,
      LOG_LEVEL: o.logLevel ?? 'warn',
      PUBLIC_URL: TEST_SETTINGS.publicUrl,
      RAPPORT_ENV: 'development',
      RAPPORT_SECRET: TEST_SETTINGS.secret,
      RAPPORT_BUSINESS_NAME: TEST_SETTINGS.identity.name ?? undefined,
      RAPPORT_MAIL_FROM: 'Test Shop <hello@shop.test>',
      WORKER_CONCURRENCY: String(CONCURRENCY),
      // Short enough that a dead worker's touches are taken over within the test, long enough for any send here.
      RAPPORT_LEASE_MS: '2000',
      RAPPORT_REQUEUE_AFTER_MS: '2000',
    },
  });
  const output: string[] = [];
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const w = { child, output, exited };
  children.add(w);
  void exited.then(() => children.delete(w));
  return w;
}

/** alive rejects with the worker's output if it exits before `p` settles, so a crash fails the test at once. */
function alive<T>(w: Worker, p: Promise<T>): Promise<T> {
  return Promise.race([
    p,
    w.exited.then((e) =>
      Promise.reject(new Error(`worker exited early (${e.code ?? e.signal}):\n${w.output.join('')}`)),
    ),
  ]);
}

async function stop(w: Worker): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill('SIGTERM');
  await w.exited;
}

/** seed inserts `n` customers, each with a first-year run and one email touch due a second ago; returns touch ids. */
async function seed(tag: string, n: number): Promise<string[]> {
  const result = await sql<{ id: string }>`
    with c as (
      insert into customers (source, external_id, first_name, last_name, email, timezone, referral_code, segment_id)
      select 'faults', ${tag} || '-' || g, 'Cust' || g, 'Fault', ${tag} || '-' || g || '@example.com', 'UTC',
             upper(${tag}) || '-' || g, ${template.segmentId}::uuid
      from generate_series(1, ${n}) g
      returning id
    ), r as (
      insert into plan_runs (customer_id, sale_id, segment_id, kind, plan, started_at)
      select c.id, ${template.saleId}::uuid, ${template.segmentId}::uuid, 'first_year', ${JSON.stringify(template.plan)}::jsonb, now()
      from c
      returning id, customer_id
    )
    insert into touches (plan_run_id, customer_id, step, channel, sender_role, due_at)
    select r.id, r.customer_id, 1, 'email', 'salesperson', now() - interval '1 second' from r
    returning id`.execute(database.db);
  return result.rows.map((r) => r.id);
}

function receivedFor(tag: string, server = smtp): ReceivedMessage[] {
  return server.messages.filter((m) => m.envelope.to.some((a) => a.startsWith(`${tag}-`)));
}

/** statusCounts counts the touches by status, and those that ended unsent by reason too (so a failure says why). */
async function statusCounts(ids: string[]): Promise<Record<string, number>> {
  const rows = await database.db
    .selectFrom('touches')
    .select(['status', 'statusReason', database.db.fn.countAll<string>().as('n')])
    .where('id', 'in', ids)
    .groupBy(['status', 'statusReason'])
    .execute();
  const counts: Record<string, number> = {};
  for (const r of rows) {
    const ended = r.status === 'failed' || r.status === 'skipped' || r.status === 'cancelled';
    const key = ended && r.statusReason ? `${r.status} (${r.statusReason})` : r.status;
    counts[key] = (counts[key] ?? 0) + Number(r.n);
  }
  return counts;
}

/** checkEveryTouchOnce asserts that every touch is sent, its stored Message-ID was received, and nothing else was. */
async function checkDelivered(
  tag: string,
  ids: string[],
  server = smtp,
): Promise<{ received: number; duplicates: Map<string, number> }> {
  const rows = await database.db
    .selectFrom('touches')
    .select(['id', 'status', 'messageId'])
    .where('id', 'in', ids)
    .execute();
  expect(rows.filter((r) => r.status !== 'sent')).toEqual([]);
  const expected = new Set(rows.map((r) => r.messageId));
  expect(expected.size).toBe(ids.length);
  const counts = new Map<string, number>();
  for (const m of receivedFor(tag, server)) counts.set(m.messageId!, (counts.get(m.messageId!) ?? 0) + 1);
  expect([...counts.keys()].filter((id) => !expected.has(id))).toEqual([]);
  expect([...expected].filter((id) => !counts.has(id!))).toEqual([]);
  const duplicates = new Map([...counts].filter(([, n]) => n > 1));
  return { received: receivedFor(tag, server).length, duplicates };
}

async function allSent(ids: string[]): Promise<boolean> {
  return (await statusCounts(ids)).sent === ids.length;
}

beforeAll(async () => {
  workerJs = buildWorker();
  database = await createTestDatabase('emailfaults');
  smtp = await startSmtpServer();
  // One sale through the real service gives the segment, plan, salesperson and items every seeded touch uses.
  const ctx = testContext(database, fixedClock(new Date()));
  const body = saleBody(
    { soldAt: new Date(Date.now() - 3600_000).toISOString() },
    { timezone: 'UTC' },
  ) as unknown as SaleInput;
  const { response } = await recordSale(ctx, body);
  const run = await database.db
    .selectFrom('planRuns')
    .select(['id', 'saleId', 'segmentId', 'plan'])
    .where('customerId', '=', response.customer.id)
    .executeTakeFirstOrThrow();
  template = { planRunId: run.id, saleId: run.saleId!, segmentId: run.segmentId, plan: run.plan };
}, 120_000);

afterEach(async () => {
  await Promise.all([...children].map((w) => stop(w)));
});

afterAll(async () => {
  for (const w of children) w.child.kill('SIGKILL');
  for (const p of prefixes) await deleteRedisPrefix(p);
  await smtp?.close();
  await database?.drop();
});

/**
 * flushPrefix deletes every key under `prefix` in one atomic script, as FLUSHALL would for this test's keys alone:
 * a key-by-key delete would let the running worker recreate half of a job between two deletes.
 */
async function flushPrefix(prefix: string): Promise<number> {
  const redis = new IORedis(REDIS_URL);
  try {
    const script = `local n, cursor = 0, '0'
      repeat
        local r = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
        cursor = r[1]
        for _, k in ipairs(r[2]) do n = n + redis.call('DEL', k) end
      until cursor == '0'
      return n`;
    return Number(await redis.eval(script, 0, `${prefix}:*`));
  } finally {
    redis.disconnect();
  }
}

function newPrefix(): string {
  const p = uniqueName('rapport_faults');
  prefixes.push(p);
  return p;
}

it('a worker killed with SIGKILL mid-batch, then restarted: every email arrives, duplicates only from the accept-record window', async () => {
  const ids = await seed('kill', 500);
  const prefix = newPrefix();
  const first = spawnWorker(prefix);
  await alive(first, smtp.waitForMessages(100, 20_000));
  first.child.kill('SIGKILL');
  await first.exited;
  const receivedAtKill = receivedFor('kill').map((m) => m.messageId!);
  // The worker is dead, so this is the state it left: touches the server accepted that were never recorded sent.
  const unrecorded = new Set(
    (await database.db.selectFrom('touches').select(['messageId', 'status', 'id']).where('id', 'in', ids).execute())
      .filter((r) => r.status !== 'sent')
      .map((r) => `<${r.id}@rapport.test>`)
      .filter((mid) => receivedAtKill.includes(mid)),
  );
  expect(receivedAtKill.length).toBeLessThan(500);

  const second = spawnWorker(prefix);
  await alive(
    second,
    waitFor(() => allSent(ids), 'every touch recorded sent after the restart', 90_000),
  );
  const { received, duplicates } = await checkDelivered('kill', ids);
  console.log(
    `SIGKILL after ${receivedAtKill.length} accepted: ${received} messages for 500 touches, ${duplicates.size} delivered twice (${unrecorded.size} were accepted but unrecorded at the kill)`,
  );
  expect(duplicates.size).toBeLessThanOrEqual(CONCURRENCY);
  expect([...duplicates.values()].every((n) => n === 2)).toBe(true);
  // A touch was delivered twice only if the kill fell between the server's accept and the recording.
  expect([...duplicates.keys()].filter((mid) => !unrecorded.has(mid))).toEqual([]);
  expect(received).toBe(500 + duplicates.size);
  await stop(second);
  expect(second.child.exitCode).toBe(0);
});

it('Redis keys deleted mid-run: the lost touches are queued again and every touch completes once', async () => {
  const ids = await seed('flush', 300);
  const prefix = newPrefix();
  const w = spawnWorker(prefix);
  await alive(
    w,
    waitFor(() => receivedFor('flush').length >= 50, '50 emails before the flush', 20_000),
  );
  await flushPrefix(prefix); // only this test's keys: other test files share the server
  const afterFlush = await statusCounts(ids);
  expect(afterFlush.queued ?? 0).toBeGreaterThan(0); // work really was lost with the keys

  await alive(
    w,
    waitFor(() => allSent(ids), 'every touch recorded sent after the flush', 90_000),
  ).catch(async (err) => {
    throw new Error(
      `${(err as Error).message}; touches ${JSON.stringify(await statusCounts(ids))}; worker output:\n${w.output.join('')}`,
    );
  });
  const { received, duplicates } = await checkDelivered('flush', ids);
  expect(duplicates.size).toBe(0);
  expect(received).toBe(300);
  // Which path recovers depends on timing: the reconciler finds jobs missing one by one, or the Redis marker (deleted
  // with the keys) says Redis lost its data and every queued touch is queued again at once. Either must be logged.
  expect(w.output.join('')).toMatch(/queued again touches whose jobs were lost|Redis lost its data: queued again/);
});

it('the worker Postgres connections cut mid-run, as a Postgres restart does: every touch completes, none twice', async () => {
  const ids = await seed('cut', 300);
  const w = spawnWorker(newPrefix());
  await alive(
    w,
    waitFor(() => receivedFor('cut').length >= 50, '50 emails before the cut', 20_000),
  );
  // Every connection to the test database but this one; the worker's pool (and this test's) reconnect on next use.
  const { rows } = await sql<{ n: number }>`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
    where datname = current_database() and pid <> pg_backend_pid()`.execute(database.db);
  expect(rows[0].n).toBeGreaterThan(0);

  await alive(
    w,
    waitFor(() => allSent(ids), 'every touch recorded sent after the cut', 90_000),
  ).catch(async (err) => {
    throw new Error(
      `${(err as Error).message}; touches ${JSON.stringify(await statusCounts(ids))}; worker output:\n${w.output.join('')}`,
    );
  });
  const { received, duplicates } = await checkDelivered('cut', ids);
  // A result the cut kept from being recorded is recorded again on a new connection, so nothing is sent twice.
  expect(duplicates.size).toBe(0);
  expect(received).toBe(300);
});

it('two worker processes at once on the same queues deliver every email exactly once', async () => {
  const other = await startSmtpServer();
  try {
    const prefix = newPrefix();
    // Each worker sends through its own server, so the test sees that both took part.
    const a = spawnWorker(prefix, { logLevel: 'info' });
    const b = spawnWorker(prefix, { logLevel: 'info', smtpUrl: other.url });
    await alive(
      a,
      alive(
        b,
        waitFor(
          () => [a, b].every((w) => w.output.join('').includes('workers running')),
          'both workers running',
          45_000,
        ),
      ),
    );
    const ids = await seed('pair', 300);
    await alive(
      a,
      alive(
        b,
        waitFor(() => allSent(ids), 'every touch recorded sent', 90_000),
      ),
    );
    const viaA = receivedFor('pair');
    const viaB = receivedFor('pair', other);
    expect(viaA.length).toBeGreaterThan(0);
    expect(viaB.length).toBeGreaterThan(0);
    const all = [...viaA, ...viaB].map((m) => m.messageId);
    expect(all).toHaveLength(300);
    expect(new Set(all).size).toBe(300);
    const stored = await database.db.selectFrom('touches').select('messageId').where('id', 'in', ids).execute();
    expect(new Set(stored.map((r) => r.messageId))).toEqual(new Set(all));
  } finally {
    await Promise.all([...children].map((w) => stop(w)));
    await other.close();
  }
});

/** startHoldingProxy forwards SMTP to `port`, holding back the first message's end-of-data for `holdMs`. */
async function startHoldingProxy(port: number, holdMs: number) {
  let markHeld!: () => void;
  const held = new Promise<void>((resolve) => (markHeld = resolve));
  const state = { releasedAt: 0, holding: false };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    upstream.pipe(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    let chain = Promise.resolve();
    let tail = '';
    client.on('data', (chunk: Buffer) => {
      const seen = tail + chunk.toString('latin1');
      tail = seen.slice(-4);
      if (!state.holding && seen.includes('\r\n.\r\n')) {
        state.holding = true;
        chain = chain.then(async () => {
          markHeld();
          await new Promise((r) => setTimeout(r, holdMs));
          state.releasedAt = Date.now();
        });
      }
      chain = chain.then(() => void upstream.write(chunk));
    });
    client.on('end', () => void chain.then(() => upstream.end()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    held,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}

it('SIGTERM with a send in flight: the send finishes and is recorded, then the worker exits 0', async () => {
  const proxy = await startHoldingProxy(smtp.port, 1000);
  try {
    const [id] = await seed('term', 1);
    const w = spawnWorker(newPrefix(), { smtpUrl: proxy.url });
    await alive(w, proxy.held); // the server has the whole message; its answer is held back
    w.child.kill('SIGTERM');
    const exit = await w.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(proxy.state.releasedAt).toBeGreaterThan(0);
    expect(exit.at).toBeGreaterThanOrEqual(proxy.state.releasedAt);
    const row = await database.db
      .selectFrom('touches')
      .select(['status', 'messageId', 'leaseUntil'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'sent', messageId: `<${id}@rapport.test>`, leaseUntil: null });
    expect(receivedFor('term').map((m) => m.messageId)).toEqual([row.messageId]);
  } finally {
    await proxy.close();
  }
});
