/**
 * A worker process killed with SIGKILL in the middle of an import, then started again, finishes the import with
 * exactly the result of an uninterrupted import of the same file: the same counts, rejected rows and a checksum of
 * every imported row (sales, customers, plan runs, touches and their statuses and due times).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import IORedis from 'ioredis';
import { generateSales } from '../../../bench/generate-sales';
import { systemClock } from '../../../src/clock';
import { findImport, summariseData } from '../../../src/db/repositories/import.repository';
import { createImportEnqueuer } from '../../../src/jobs/import.handler';
import { createImport, getImportReport, processImport } from '../../../src/services/import.service';
import { testContext, TEST_SETTINGS } from '../../helpers/app';
import { createTestDatabase, uniqueName, type TestDatabase } from '../../helpers/database';
import { REDIS_URL, deleteRedisPrefix } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const WORKER_JS = path.join(ROOT, 'dist', 'main', 'worker.js');
const FILE = `/tmp/${uniqueName('rapport_import_crash')}.csv`;
const SALES = 1200;
const BATCH = 100;

let interrupted: TestDatabase;
let uninterrupted: TestDatabase;
const prefix = uniqueName('rapport_test_importcrash');
const children = new Set<ChildProcess>();

beforeAll(async () => {
  // Sales from 3.2 to 1.1 years before today: every step is past the grace period whatever the exact time of the
  // run, so the worker (on the system clock) and the reference import plan exactly the same touches.
  const now = new Date(Date.now() - 400 * 86_400_000);
  await generateSales({
    count: SALES,
    format: 'csv',
    out: FILE,
    badRate: 0.01,
    seed: 7,
    now,
    years: 2,
    source: 'crash-pos',
  });
  [interrupted, uninterrupted] = await Promise.all([
    createTestDatabase('importcrash_a'),
    createTestDatabase('importcrash_b'),
  ]);
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([interrupted?.drop(), uninterrupted?.drop()]);
  await deleteRedisPrefix(prefix);
});

function startWorker(db: TestDatabase): { child: ChildProcess; exited: Promise<unknown>; output: string[] } {
  const child = spawn(process.execPath, [WORKER_JS], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      RAPPORT_OUTBOX_DIR: `/tmp/${prefix}`,
      RAPPORT_SECRET: TEST_SETTINGS.secret,
      DEFAULT_TIMEZONE: TEST_SETTINGS.defaultTimezone,
      // The job lock of a killed worker expires after this, so the restarted worker takes the import over quickly.
      RAPPORT_LEASE_MS: '2000',
    },
  });
  const output: string[] = [];
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  children.add(child);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  void exited.then(() => children.delete(child));
  return { child, exited, output };
}

it('resumes after a SIGKILL from the last committed batch, with the same result as an uninterrupted import', async () => {
  // The reference: the same file imported in one go, in this process.
  const refCtx = testContext(uninterrupted, systemClock);
  const ref = await createImport(refCtx, { format: 'csv', batchSize: BATCH }, createReadStream(FILE), 'test');
  const refReport = await processImport(refCtx, ref.id);
  expect(refReport.status).toBe('completed');
  expect(refReport.rejected).toBeGreaterThan(0);

  // The same file through the queue to a worker process, killed once some batches are committed.
  const ctx = testContext(interrupted, systemClock);
  const stored = await createImport(ctx, { format: 'csv', batchSize: BATCH }, createReadStream(FILE), 'test');
  const producer = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const enqueuer = createImportEnqueuer(producer, prefix);
  await enqueuer.enqueue(stored.id);
  const first = startWorker(interrupted);
  const atKill = await waitFor(
    async () => {
      const imp = await findImport(interrupted.db, stored.id);
      return imp && imp.salesDone >= 3 * BATCH ? imp : null;
    },
    'some batches to commit',
    25000,
    10,
  );
  first.child.kill('SIGKILL');
  await first.exited;
  const afterKill = (await findImport(interrupted.db, stored.id))!;
  expect(afterKill.status).toBe('running');
  expect(afterKill.salesDone).toBeGreaterThanOrEqual(atKill.salesDone);
  expect(afterKill.salesDone).toBeLessThan(SALES);

  const second = startWorker(interrupted);
  const done = await waitFor(
    async () => {
      const r = await getImportReport(ctx, stored.id);
      return r.status === 'completed' || r.status === 'failed' ? r : null;
    },
    `the restarted worker to finish the import (${second.output.join('')})`,
    25000,
    100,
  );
  second.child.kill('SIGTERM');
  await second.exited;
  await enqueuer.close();
  producer.disconnect();

  const pick = (r: typeof done) => ({
    status: r.status,
    rowsRead: r.rowsRead,
    salesRead: r.salesRead,
    imported: r.imported,
    duplicates: r.duplicates,
    rejected: r.rejected,
    rejections: r.rejections,
  });
  expect(pick(done)).toEqual(pick(refReport));
  const [a, b] = await Promise.all([summariseData(interrupted.db), summariseData(uninterrupted.db)]);
  expect(a.sales).toBe(refReport.imported);
  expect(a).toEqual(b);
}, 60000);
