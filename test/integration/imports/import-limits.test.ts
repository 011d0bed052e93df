/**
 * Imports cannot exhaust memory or storage: other body types are refused before they are read, an aborted upload is
 * failed and its chunks deleted, uploads that stopped are swept after an hour, each key has an upload quota, and a
 * till's key reads only its own imports. Retention also purges idempotency answers after 24 hours.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import IORedis from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/api/app';
import { createApiMetrics } from '../../../src/api/metrics';
import { fixedClock } from '../../../src/clock';
import { createApiKey } from '../../../src/services/auth.service';
import { createImport } from '../../../src/services/import.service';
import { runRetention } from '../../../src/services/retention.service';
import type { ServiceContext } from '../../../src/services/context';
import { testContext } from '../../helpers/app';
import { createTestDatabase, type TestDatabase } from '../../helpers/database';
import { REDIS_URL } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';

const NOW = new Date('2026-11-02T10:00:00Z');
const MiB = 1024 * 1024;
const QUOTA = 3 * MiB;
const CSV_HEADER = 'external_id,sold_at,total,first_name,item_name,unit_price\n';

let database: TestDatabase;
let ctx: ServiceContext;
let app: FastifyInstance;
let redis: IORedis;
let posKey: { key: string; id: string };
let otherPos: { key: string; id: string };
let adminKey: string;
const enqueued: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase('import_limits');
  ctx = testContext(database, fixedClock(NOW), { importQuotaBytes: QUOTA });
  redis = new IORedis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  await redis.connect();
  app = await buildApp({
    ctx,
    metrics: createApiMetrics(ctx),
    redisPing: async () => void (await redis.ping()),
    enqueueImport: async (id) => void enqueued.push(id),
  });
  const made = async (name: string) => {
    const k = await createApiKey(database.db, { name, role: 'pos' });
    return { key: k.key, id: k.apiKey.id };
  };
  posKey = await made('till 1');
  otherPos = await made('till 2');
  adminKey = (await createApiKey(database.db, { name: 'admin', role: 'admin' })).key;
});
afterAll(async () => {
  await app?.close();
  redis?.disconnect();
  await database?.drop();
});

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/** lazyBody yields `total` bytes on demand and counts how many were taken. */
function lazyBody(total: number): { stream: Readable; taken: () => number } {
  let taken = 0;
  const piece = Buffer.alloc(64 * 1024, 'a');
  const stream = new Readable({
    read() {
      if (taken >= total) return void this.push(null);
      taken += piece.length;
      this.push(piece);
    },
  });
  return { stream, taken: () => taken };
}

/** csvOf returns a CSV of about `bytes` bytes of valid rows. */
function csvOf(bytes: number): string {
  const rows: string[] = [];
  let size = CSV_HEADER.length;
  for (let i = 0; size < bytes; i++) {
    const r = `Q-${i},2026-10-01,5,Ann${'n'.repeat(40)},Cup,5`;
    rows.push(r);
    size += r.length + 1;
  }
  return CSV_HEADER + rows.join('\n') + '\n';
}

async function importRow(id: string) {
  const imp = await database.db.selectFrom('imports').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const chunks = await database.db
    .selectFrom('importChunks')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('importId', '=', id)
    .executeTakeFirstOrThrow();
  return { ...imp, chunkRows: Number(chunks.n) };
}

it.each(['application/json', 'text/plain'])(
  'refuses a %s body with 415 before reading it (the route allows 2 GiB for imports only)',
  async (type) => {
    const body = lazyBody(8 * MiB);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/imports',
      headers: { ...auth(posKey.key), 'content-type': type },
      payload: body.stream,
    });
    expect(res.statusCode).toBe(415);
    expect(body.taken()).toBeLessThan(MiB);
  },
);

it('lets a till read only the imports it uploaded; an admin reads all', async () => {
  const mine = await createImport(ctx, { format: 'csv' }, Readable.from([Buffer.from(csvOf(100))]), `key:${posKey.id}`);
  const read = (key: string) => app.inject({ method: 'GET', url: `/v1/imports/${mine.id}`, headers: auth(key) });
  expect((await read(posKey.key)).statusCode).toBe(200);
  expect((await read(adminKey)).statusCode).toBe(200);
  const other = await read(otherPos.key);
  expect(other.statusCode).toBe(404);
  expect(other.json().error.code).toBe('not_found');
});

it('fails an upload the client abandons and deletes its chunks', async () => {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/v1/imports',
    headers: { ...auth(adminKey), 'content-type': 'text/csv', 'content-length': String(10 * MiB) },
  });
  req.on('error', () => undefined);
  req.write(csvOf(2.5 * MiB));
  const started = await waitFor(
    () =>
      database.db
        .selectFrom('imports')
        .select('id')
        .where('createdBy', 'like', 'key:%')
        .where('status', '=', 'uploading')
        .executeTakeFirst(),
    'the upload to start storing chunks',
  );
  await waitFor(async () => (await importRow(started.id)).chunkRows >= 2, 'two chunks stored');
  req.destroy();
  const failed = await waitFor(async () => {
    const row = await importRow(started.id);
    return row.status === 'failed' ? row : null;
  }, 'the aborted upload to be failed');
  expect(failed.error).toMatch(/^upload aborted after \d+ bytes/);
  expect(failed.chunkRows).toBe(0);
  expect(enqueued).not.toContain(started.id);
});

it("stops a key's uploads at its quota, other keys unaffected", async () => {
  const quotaKey = await createApiKey(database.db, { name: 'quota till', role: 'pos' });
  const upload = (key: string, body: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/imports',
      headers: { ...auth(key), 'content-type': 'text/csv' },
      payload: body,
    });
  expect((await upload(quotaKey.key, csvOf(2 * MiB))).statusCode).toBe(202);
  const over = await upload(quotaKey.key, csvOf(2 * MiB));
  expect(over.statusCode).toBe(429);
  expect(over.json().error).toMatchObject({ code: 'too_many_requests', details: { quotaBytes: QUOTA } });
  const refused = await database.db
    .selectFrom('imports')
    .select('id')
    .where('createdBy', '=', `key:${quotaKey.apiKey.id}`)
    .where('status', '=', 'failed')
    .executeTakeFirstOrThrow();
  expect((await importRow(refused.id)).chunkRows).toBe(0);
  expect((await upload(quotaKey.key, csvOf(100))).statusCode).toBe(429); // refused before storing anything
  expect((await upload(otherPos.key, csvOf(100))).statusCode).toBe(202);
});

describe('retention', () => {
  it('fails uploads that received nothing for an hour and deletes their chunks, leaving live ones', async () => {
    const make = async (updatedAt: Date) => {
      const { id } = await database.db
        .insertInto('imports')
        .values({ format: 'csv', createdBy: 'key:sweep', createdAt: updatedAt, updatedAt })
        .returning('id')
        .executeTakeFirstOrThrow();
      await database.db
        .insertInto('importChunks')
        .values({ importId: id, seq: 0, data: Buffer.from(CSV_HEADER) })
        .execute();
      return id;
    };
    const stale = await make(new Date(NOW.getTime() - 61 * 60_000));
    const live = await make(new Date(NOW.getTime() - 10 * 60_000));
    expect((await runRetention(ctx)).uploadsFailed).toBe(1);
    expect(await importRow(stale)).toMatchObject({ status: 'failed', chunkRows: 0 });
    expect(await importRow(live)).toMatchObject({ status: 'uploading', chunkRows: 1 });
  });

  it('purges idempotency answers older than 24 hours', async () => {
    const at = (hours: number) => new Date(NOW.getTime() - hours * 3600_000);
    const rows = [25, 23].map((hours) => ({
      apiKeyId: posKey.id,
      key: `k-${hours}`,
      route: 'POST /v1/staff',
      requestHash: 'h',
      statusCode: 201,
      response: JSON.stringify({ staff: { email: 'ann@example.com' } }),
      createdAt: at(hours),
    }));
    await database.db.insertInto('idempotencyKeys').values(rows).execute();
    expect((await runRetention(ctx)).idempotencyPurged).toBe(1);
    const left = await database.db.selectFrom('idempotencyKeys').select('key').execute();
    expect(left.map((r) => r.key)).toEqual(['k-23']);
  });
});
