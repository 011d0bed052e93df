/**
 * /metrics in Prometheus text format from an app built as the API process builds it (with its producer queues):
 * touches by channel and status, queue depths, the delivery latency histogram and HTTP latency.
 */
import IORedis from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/api/app';
import { createApiMetrics } from '../../../src/api/metrics';
import { fixedClock } from '../../../src/clock';
import { closeQueues, createQueues, type Queues } from '../../../src/jobs/queues';
import { createApiKey } from '../../../src/services/auth.service';
import { saleBody, testContext } from '../../helpers/app';
import { createTestDatabase, uniqueName, type TestDatabase } from '../../helpers/database';
import { deleteRedisPrefix, REDIS_URL } from '../../helpers/worker';

const NOW = new Date('2026-11-02T10:00:00Z');
const METRICS_TOKEN = 'metrics-token-for-the-scraper';

let database: TestDatabase;
let redis: IORedis;
let queues: Queues;
let app: FastifyInstance;
let posKey: string;
const prefix = uniqueName('rapport_test');

beforeAll(async () => {
  database = await createTestDatabase('metrics');
  redis = new IORedis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  await redis.connect();
  queues = createQueues(redis, prefix);
  const ctx = testContext(database, fixedClock(NOW));
  app = await buildApp({
    ctx,
    metrics: createApiMetrics(ctx),
    queues,
    redisPing: async () => void (await redis.ping()),
    http: { metricsToken: METRICS_TOKEN },
  });
  posKey = (await createApiKey(database.db, { name: 'pos', role: 'pos' })).key;
});
afterAll(async () => {
  await app?.close();
  await closeQueues(queues);
  redis?.disconnect();
  await deleteRedisPrefix(prefix);
  await database?.drop();
});

/** sample returns the value of the first sample of `name` whose labels include every given label. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function scrape(): Promise<string> {
  const res = await app.inject({
    method: 'GET',
    url: '/metrics',
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain/);
  return res.body;
}

it('reports touches, queue depths, delivery latency and HTTP latency', async () => {
  const sale = await app.inject({
    method: 'POST',
    url: '/v1/sales',
    headers: { authorization: `Bearer ${posKey}` },
    payload: saleBody({ soldAt: '2026-10-29T10:00:00Z' }, { timezone: 'UTC' }),
  });
  expect(sale.statusCode).toBe(201);
  const touches: { id: string; step: number; dueAt: string }[] = sale.json().touches;
  const first = touches.find((x) => x.step === 1)!;
  // Delivered 90 seconds after it fell due.
  await database.db
    .updateTable('touches')
    .set({ status: 'sent', completedAt: new Date(new Date(first.dueAt).getTime() + 90_000) })
    .where('id', '=', first.id)
    .execute();
  await queues.email.add('deliver', { touchId: first.id }, { jobId: 'metrics-test-job', delay: 60_000 });

  let text = await scrape();
  for (const name of [
    'rapport_touches',
    'rapport_queue_jobs',
    'rapport_delivery_latency_seconds',
    'rapport_http_request_duration_seconds',
  ]) {
    expect(text).toContain(`# TYPE ${name} `);
  }
  expect(sample(text, 'rapport_touches', { channel: 'email', status: 'sent' })).toBe(1);
  expect(sample(text, 'rapport_touches', { channel: 'email', status: 'scheduled' })).toBe(4);
  expect(sample(text, 'rapport_touches', { channel: 'call', status: 'scheduled' })).toBe(2);
  expect(sample(text, 'rapport_queue_jobs', { queue: 'email', state: 'delayed' })).toBe(1);
  expect(sample(text, 'rapport_queue_jobs', { queue: 'letter', state: 'waiting' })).toBe(0);
  expect(sample(text, 'rapport_delivery_latency_seconds_bucket', { channel: 'email', le: '60' })).toBe(0);
  expect(sample(text, 'rapport_delivery_latency_seconds_bucket', { channel: 'email', le: '300' })).toBe(1);
  expect(sample(text, 'rapport_delivery_latency_seconds_sum', { channel: 'email' })).toBe(90);
  expect(
    sample(text, 'rapport_http_request_duration_seconds_count', { method: 'POST', route: '/v1/sales', status: '201' }),
  ).toBe(1);

  // The histogram accumulates: a second scrape does not count the same delivery again, a new delivery is added.
  const second = touches.find((x) => x.step === 3)!;
  const secondDue = new Date(first.dueAt);
  await database.db
    .updateTable('touches')
    .set({ status: 'sent', dueAt: secondDue, completedAt: new Date(secondDue.getTime() + 2 * 3600_000) })
    .where('id', '=', second.id)
    .execute();
  text = await scrape();
  expect(sample(text, 'rapport_delivery_latency_seconds_count', { channel: 'email' })).toBe(2);
  expect(sample(text, 'rapport_delivery_latency_seconds_bucket', { channel: 'email', le: '3600' })).toBe(1);
  // Counting every touch is the expensive part of a scrape: the counts are reused for GAUGE_CACHE_MS (15 s).
  expect(sample(text, 'rapport_touches', { channel: 'email', status: 'sent' })).toBe(1);
  expect(sample(text, 'rapport_queue_jobs', { queue: 'email', state: 'delayed' })).toBe(1);
  text = await scrape();
  expect(sample(text, 'rapport_delivery_latency_seconds_count', { channel: 'email' })).toBe(2);
});
