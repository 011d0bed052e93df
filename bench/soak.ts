/**
 * bench/soak: the built processes under a steady load while things break. 2 API and 3 worker processes
 * (dist/main/api.js, dist/main/worker.js) on a scratch database and a redis-server of the soak's own (a spare port,
 * no persistence), an SMTP sink in this process, sales posted at a steady rate with step 1 due at once, and for
 * SOAK_MINUTES (default 10):
 *   - a worker SIGKILLed every minute (and started again), with the messages in flight at that moment counted;
 *   - the soak's redis-server restarted (empty: no persistence) at 1/3 of the run;
 *   - every Postgres connection to the soak's database cut with pg_terminate_backend at 1/2 (the machine's Postgres
 *     serves other work and is never restarted);
 *   - the SMTP server refusing connections for 2 minutes from 1/6 of the run (less when the run is shorter).
 * Then it stops the load, waits for every due contact to be delivered and reports: delivered / due, none lost,
 * duplicates against the messages in flight at the kills, every API status (2xx or 503 only), worker RSS over time.
 * Run with `npm run soak`; figures go to BENCHMARKS.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { SMTPServer } from 'smtp-server';
import { databaseUrl, dropDatabase } from './scratch';

const env = process.env;
const MINUTES = Number(env.SOAK_MINUTES ?? 10);
const SALES_PER_SECOND = Number(env.SOAK_SALES_PER_SECOND ?? 10);
const BASE_URL = env.SOAK_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_PORT = Number(env.SOAK_REDIS_PORT ?? 6390 + Math.floor(Math.random() * 500));
const DRAIN_TIMEOUT_MS = Number(env.SOAK_DRAIN_SECONDS ?? 600) * 1000;
const ROOT = path.resolve(__dirname, '../..');
const RUN = `rapport_soak_${Date.now().toString(36)}`;
const LOG_DIR = path.join(os.tmpdir(), RUN);
const ADMIN_KEY = `soak-admin-${randomBytes(16).toString('hex')}`;

// The clock of the fault schedule starts once every process is up (start-up takes a minute on a loaded machine).
let t0 = Date.now();
const at = () => `${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s`;
const say = (msg: string) => process.stdout.write(`[${at()}] ${msg}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The soak's own redis-server: no persistence, so a restart loses everything (what the marker must notice). */
class SoakRedis {
  private child: ChildProcess | null = null;
  constructor(readonly port: number) {}
  async start(): Promise<void> {
    this.child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      if (await canConnect(this.port)) return;
      await sleep(100);
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The SMTP sink: counts each message by its Message-ID; `refuse` closes the port so connections are refused. */
class Sink {
  received = new Map<string, number>();
  private server: SMTPServer | null = null;
  constructor(readonly port: number) {}
  async open(): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, _session, callback) => {
        let head = '';
        stream.on('data', (c: Buffer) => {
          if (head.length < 8192) head += c.toString('latin1');
        });
        stream.on('end', () => {
          const id = /^message-id:\s*(\S+)/im.exec(head)?.[1] ?? `no-id-${Math.random()}`;
          this.received.set(id, (this.received.get(id) ?? 0) + 1);
          callback();
        });
      },
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }
  async refuse(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  get total(): number {
    let n = 0;
    for (const v of this.received.values()) n += v;
    return n;
  }
  get duplicates(): number {
    let n = 0;
    for (const v of this.received.values()) n += v - 1;
    return n;
  }
}

interface Proc {
  name: string;
  child: ChildProcess;
  port?: number;
}

function startProcess(
  name: string,
  script: string,
  extra: Record<string, string>,
  baseEnv: Record<string, string>,
): Proc {
  const out = path.join(LOG_DIR, `${name}.log`);
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'main', script)], {
    cwd: ROOT,
    env: { PATH: env.PATH ?? '', ...baseEnv, ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const append = (d: Buffer) => {
    try {
      writeFileSync(out, d, { flag: 'a' });
    } catch {
      // the log is for reading afterwards only
    }
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  return { name, child, port: extra.PORT ? Number(extra.PORT) : undefined };
}

function rssMb(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
  } catch {
    return NaN;
  }
}

/**
 * openAllWeek gives the soak's sales (source "soak") a segment whose send window is open every day, all day, so a
 * sale's step 1 (two days past) goes out at once whatever the day and hour of the run: the soak tests faults, not
 * windows.
 */
async function openAllWeek(port: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/segments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'soak',
      priority: 1,
      match: { sources: ['soak'] },
      sendWindow: { days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '23:59' },
    }),
  });
  if (res.status !== 201) throw new Error(`creating the soak segment answered ${res.status}: ${await res.text()}`);
}

async function waitReady(port: number, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return;
    } catch {
      // not yet
    }
    await sleep(200);
  }
  throw new Error(`API on port ${port} did not start (see ${LOG_DIR})`);
}

async function main(): Promise<void> {
  mkdirSync(LOG_DIR, { recursive: true });
  const minuteMs = 60_000;
  const runMs = MINUTES * minuteMs;
  const zone = 'UTC';
  say(`soak ${RUN}: ${MINUTES} min, ${SALES_PER_SECOND} sales/s, a send window open all week, logs in ${LOG_DIR}`);

  const redis = new SoakRedis(REDIS_PORT);
  await redis.start();
  const sink = new Sink(await freePort());
  await sink.open();
  const dbUrl = databaseUrl(BASE_URL, RUN);
  const baseEnv: Record<string, string> = {
    DATABASE_URL: dbUrl,
    REDIS_URL: `redis://127.0.0.1:${REDIS_PORT}`,
    REDIS_PREFIX: RUN,
    SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
    SMTP_ALLOW_PLAINTEXT: 'true',
    PUBLIC_URL: 'http://localhost:3000',
    RAPPORT_SECRET: randomBytes(32).toString('hex'),
    RAPPORT_ADMIN_KEY: ADMIN_KEY,
    RAPPORT_BUSINESS_NAME: 'Soak Shop',
    RAPPORT_MAIL_FROM: 'Soak Shop <hello@soak.example>',
    RAPPORT_RATE_LIMIT_PER_KEY: '0',
    // A killed worker's contacts are taken over after this lease, not after the default two minutes.
    RAPPORT_LEASE_MS: '10000',
    RAPPORT_REQUEUE_AFTER_MS: '60000',
    DATABASE_POOL_SIZE: '5',
    WORKER_CONCURRENCY: '16',
    LOG_LEVEL: 'warn',
  };

  const apis: Proc[] = [];
  let firstPort = 0;
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    firstPort ||= port;
    // The first one creates and migrates the database; the second waits for it.
    apis.push(startProcess(`api-${i}`, 'api.js', { PORT: String(port) }, baseEnv));
    await waitReady(port);
  }
  await openAllWeek(firstPort);
  const workers: (Proc | null)[] = [null, null, null];
  let stopping = false;
  const restarts: string[] = [];
  // The soak is the workers' supervisor (as docker's restart policy is): a worker that exits (e.g. it was migrating
  // at start-up when its connections were cut) is started again; a SIGKILL of ours is restarted by the kill step.
  const startWorker = (i: number): Proc => {
    const p = startProcess(`worker-${i}`, 'worker.js', {}, baseEnv);
    workers[i] = p;
    p.child.once('exit', (code, signal) => {
      if (stopping || signal === 'SIGKILL' || workers[i] !== p) return;
      restarts.push(`${at()}: worker-${i} exited (code ${code}); started again`);
      startWorker(i);
    });
    return p;
  };
  for (let i = 0; i < 3; i++) startWorker(i);
  say(
    `2 APIs (ports ${apis.map((a) => a.port).join(', ')}), 3 workers, redis-server :${REDIS_PORT}, SMTP sink :${sink.port}`,
  );

  t0 = Date.now();
  const pg = new Pool({ connectionString: dbUrl, max: 2 });
  pg.on('error', () => undefined);
  const statuses = new Map<string, number>();
  const count = (k: string) => statuses.set(k, (statuses.get(k) ?? 0) + 1);
  let posted = 0;
  let seq = 0;
  let loadOn = true;

  const postSale = async () => {
    const n = seq++;
    const api = apis[n % apis.length];
    const soldAt = new Date(Date.now() - 2 * 24 * 3600_000 - 5 * 60_000).toISOString();
    const body = {
      externalId: `SOAK-${n}`,
      source: 'soak',
      soldAt,
      total: { amount: '100.00', currency: 'AUD' },
      items: [{ name: 'Thing', quantity: 1, unitPrice: '100.00' }],
      customer: { externalId: `SC-${n}`, firstName: 'Sam', email: `c${n}@soak.example`, timezone: zone },
      salesperson: { email: 'rep@soak.example', name: 'Rep' },
    };
    try {
      const res = await fetch(`http://127.0.0.1:${api.port}/v1/sales`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      count(String(res.status));
      if (res.status === 201 || res.status === 200) posted++;
      else if (res.status >= 500 && res.status !== 503)
        say(`API ${api.name} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      else await res.arrayBuffer();
    } catch (err) {
      count(`network: ${(err as Error).name}`);
    }
  };
  const load = (async () => {
    const every = 1000 / SALES_PER_SECOND;
    let next = Date.now();
    const inflight = new Set<Promise<void>>();
    while (loadOn) {
      const p = postSale().finally(() => inflight.delete(p));
      inflight.add(p);
      next += every;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
    }
    await Promise.all(inflight);
  })();

  const memory: { t: number; mb: number[] }[] = [];
  const sampler = setInterval(() => {
    memory.push({ t: Math.round((Date.now() - t0) / 1000), mb: workers.map((w) => rssMb(w?.child.pid)) });
  }, 10_000);

  const kills: { at: string; worker: string; inFlight: number }[] = [];
  const events: string[] = [];
  const note = (msg: string) => {
    events.push(`${at()}: ${msg}`);
    say(msg);
  };
  const inFlight = async () => {
    try {
      const r = await pg.query(
        `select count(*)::int as n from touches where status = 'queued' and lease_until > now() and channel = 'email'`,
      );
      return r.rows[0].n as number;
    } catch {
      return NaN;
    }
  };

  const smtpDownAt = Math.max(20_000, runMs / 6);
  const smtpDownFor = Math.min(2 * minuteMs, runMs / 3);
  const schedule: { at: number; run: () => Promise<void> }[] = [];
  for (let m = 1; m * minuteMs < runMs; m++) {
    schedule.push({
      at: m * minuteMs,
      run: async () => {
        const i = (m - 1) % workers.length;
        const w = workers[i]!;
        const n = await inFlight();
        w.child.kill('SIGKILL');
        kills.push({ at: at(), worker: w.name, inFlight: n });
        note(`SIGKILL ${w.name} (email contacts leased at that moment, all workers: ${n})`);
        await new Promise((resolve) => (w.child.exitCode !== null ? resolve(null) : w.child.once('exit', resolve)));
        startWorker(i);
      },
    });
  }
  schedule.push({
    at: runMs / 3,
    run: async () => {
      await redis.stop();
      note('redis-server killed; starting it again empty (no persistence)');
      await sleep(2000);
      await redis.start();
    },
  });
  schedule.push({
    at: runMs / 2,
    run: async () => {
      const r = await pg.query(
        `select count(*)::int as n from (select pg_terminate_backend(pid) from pg_stat_activity
          where datname = $1 and pid <> pg_backend_pid()) t`,
        [RUN],
      );
      note(`pg_terminate_backend: cut ${r.rows[0].n} Postgres connections to ${RUN}`);
    },
  });
  schedule.push({
    at: smtpDownAt,
    run: async () => {
      await sink.refuse();
      note(`SMTP server refusing connections for ${Math.round(smtpDownFor / 1000)} s`);
      setTimeout(() => {
        void sink.open().then(() => note('SMTP server accepting again'));
      }, smtpDownFor);
    },
  });
  schedule.sort((a, b) => a.at - b.at);
  for (const step of schedule) {
    const wait = t0 + step.at - Date.now();
    if (wait > 0) await sleep(wait);
    await step.run().catch((err) => note(`fault step failed: ${(err as Error).message}`));
  }
  const rest = t0 + runMs - Date.now();
  if (rest > 0) await sleep(rest);
  loadOn = false;
  await load;
  note(`load stopped: ${posted} sales recorded`);

  // Drain: every step-1 email of a recorded sale must end sent.
  const drainStart = Date.now();
  let last = { sent: 0, due: 0, other: '' };
  while (Date.now() - drainStart < DRAIN_TIMEOUT_MS) {
    try {
      const r = await pg.query(
        `select status, count(*)::int as n from touches where channel = 'email' and step = 1 group by status`,
      );
      const by = Object.fromEntries(r.rows.map((x) => [x.status, x.n]));
      // Every sale the database holds counts, also those whose answer the client gave up waiting for.
      const due = r.rows.reduce((a, x) => a + x.n, 0);
      last = { sent: by.sent ?? 0, due, other: JSON.stringify(by) };
      if (last.sent === due) break;
    } catch {
      // connections were cut: try again
    }
    await sleep(2000);
  }
  const drainSeconds = (Date.now() - drainStart) / 1000;
  clearInterval(sampler);
  memory.push({ t: Math.round((Date.now() - t0) / 1000), mb: workers.map((w) => rssMb(w?.child.pid)) });

  const sentIds = await pg.query(`select count(*)::int as n from touches where channel = 'email' and status = 'sent'`);
  const lost = last.due - last.sent;
  const stuck = await pg.query(
    `select status, attempts, status_reason, lease_until, queued_at from touches
      where channel = 'email' and step = 1 and status <> 'sent' order by queued_at limit 20`,
  );
  const inFlightAtKills = kills.reduce((a, k) => a + (Number.isNaN(k.inFlight) ? 0 : k.inFlight), 0);
  const bad = [...statuses].filter(([k]) => !/^2\d\d$/.test(k) && k !== '503');

  const lines = [
    `# soak ${RUN}`,
    `command: SOAK_MINUTES=${MINUTES} npm run soak (sales ${SALES_PER_SECOND}/s, 2 API + 3 worker processes)`,
    `sales answered 2xx: ${posted}; step-1 emails due (sales in the database): ${last.due}; sent: ${last.sent} (${last.other}); lost: ${lost}`,
    `drained ${drainSeconds.toFixed(0)} s after the load stopped`,
    `messages received by the SMTP sink: ${sink.total} for ${sink.received.size} distinct Message-IDs; duplicates: ${sink.duplicates}`,
    `email touches sent (all steps): ${sentIds.rows[0].n}`,
    `kills: ${kills.length}; email contacts leased at the kills, summed: ${inFlightAtKills} (duplicates may not exceed it)`,
    `API answers: ${[...statuses].map(([k, v]) => `${k}: ${v}`).join(', ')}; not 2xx/503: ${bad.length ? JSON.stringify(bad) : 'none'}`,
    'events:',
    ...events.map((e) => `  ${e}`),
    ...restarts.map((e) => `  ${e}`),
    ...(stuck.rows.length ? ['not delivered (first 20):', ...stuck.rows.map((r) => `  ${JSON.stringify(r)}`)] : []),
    'worker RSS (MB) every 10 s [worker-0, worker-1, worker-2] (a restarted worker starts again low):',
    ...memory.map(
      (m) => `  ${String(m.t).padStart(4)} s  ${m.mb.map((v) => (Number.isNaN(v) ? '-' : v.toFixed(0))).join(' / ')}`,
    ),
  ];
  const verdict =
    lost === 0 && last.sent === last.due && sink.duplicates <= inFlightAtKills && bad.length === 0 ? 'PASS' : 'FAIL';
  lines.push(`verdict: ${verdict}`);
  process.stdout.write(`\n${lines.join('\n')}\n`);

  stopping = true;
  for (const p of [...apis, ...workers]) p?.child.kill('SIGTERM');
  await sleep(3000);
  for (const p of [...apis, ...workers]) if (p && p.child.exitCode === null) p.child.kill('SIGKILL');
  await pg.end();
  await sink.refuse();
  await redis.stop();
  if (env.SOAK_KEEP !== '1') await dropDatabase(BASE_URL, RUN);
  process.exit(verdict === 'PASS' ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(`soak failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
