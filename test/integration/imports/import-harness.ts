/**
 * The API with its import queue and the real worker runtime on one Redis prefix, over a test database with a fixed
 * clock: POST /v1/imports stores and queues, the worker imports, GET /v1/imports/:id reports.
 */
import IORedis from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/api/app';
import { createApiMetrics } from '../../../src/api/metrics';
import { fixedClock } from '../../../src/clock';
import { createImportEnqueuer } from '../../../src/jobs/import.handler';
import { createApiKey } from '../../../src/services/auth.service';
import type { ServiceContext } from '../../../src/services/context';
import { testContext } from '../../helpers/app';
import { createTestDatabase, uniqueName, type TestDatabase } from '../../helpers/database';
import { REDIS_URL, startTestWorker, type TestWorker } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';

/** ImportHarness is a running API and worker sharing a database and a queue prefix. */
export interface ImportHarness {
  app: FastifyInstance;
  ctx: ServiceContext;
  database: TestDatabase;
  worker: TestWorker;
  posKey: string;
  staffKey: string;
  upload(body: string, contentType: string, query?: string): Promise<{ statusCode: number; json(): any }>;
  report(id: string): Promise<any>;
  waitDone(id: string): Promise<any>;
  close(): Promise<void>;
}

/** startImportHarness starts everything with the clock at `now`. */
export async function startImportHarness(label: string, now: Date): Promise<ImportHarness> {
  const database = await createTestDatabase(label);
  const clock = fixedClock(now);
  const ctx = testContext(database, clock);
  const prefix = uniqueName('rapport_test_import');
  const producer = new IORedis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  producer.on('error', () => undefined);
  await producer.connect();
  const imports = createImportEnqueuer(producer, prefix);
  const app = await buildApp({
    ctx,
    metrics: createApiMetrics(ctx),
    redisPing: async () => void (await producer.ping()),
    enqueueImport: imports.enqueue,
  });
  const worker = await startTestWorker({ database, clock, smtpUrl: null, outboxDir: `/tmp/${prefix}`, prefix });
  const posKey = (await createApiKey(database.db, { name: 'pos', role: 'pos' })).key;
  const admin = (await createApiKey(database.db, { name: 'admin', role: 'admin' })).key;
  void admin;
  const staffKey = await createStaffKey(database);
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const report = async (id: string) =>
    (await app.inject({ method: 'GET', url: `/v1/imports/${id}`, headers: auth(posKey) })).json();
  return {
    app,
    ctx,
    database,
    worker,
    posKey,
    staffKey,
    upload: (body, contentType, query = '') =>
      app.inject({
        method: 'POST',
        url: `/v1/imports${query}`,
        headers: { ...auth(posKey), 'content-type': contentType },
        payload: body,
      }),
    report,
    waitDone: (id) =>
      waitFor(
        async () => {
          const r = await report(id);
          return r.import && ['completed', 'failed'].includes(r.import.status) ? r : null;
        },
        `import ${id} to finish`,
        20000,
      ),
    async close() {
      await worker.close();
      await imports.close();
      await app.close();
      producer.disconnect();
      await database.drop();
    },
  };
}

async function createStaffKey(database: TestDatabase): Promise<string> {
  const { id } = await database.db
    .insertInto('staff')
    .values({ email: 'pat@shop.example', name: 'Pat' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return (await createApiKey(database.db, { name: 'staff', role: 'staff', staffId: id })).key;
}
