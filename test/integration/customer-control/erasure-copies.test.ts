/**
 * Erasure reaches the copies outside the customer's own rows: rejected import rows quoting them, the bytes of an
 * upload not yet imported, the failed job of one of their touches (its reason quotes the address) and the outbox
 * file of an email sent to them.
 */
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'bullmq';
import IORedis from 'ioredis';
import { touchJobId } from '../../../src/jobs/contract';
import { createErasurePort } from '../../../src/jobs/erasure';
import { closeQueues, createQueues, type Queues } from '../../../src/jobs/queues';
import { safeFileName } from '../../../src/channels/email.channel';
import { eraseCustomerData } from '../../../src/services/customer-control.service';
import { createTestApp, type TestApp } from '../../helpers/app';
import { uniqueName } from '../../helpers/database';
import { REDIS_URL, deleteRedisPrefix } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';
import { sell } from './helpers';

const EMAIL = 'copies.erase@example.org';
let t: TestApp;
let redis: IORedis;
let queues: Queues;
let outbox: string;
const prefix = uniqueName('rapport_test_erase');

beforeAll(async () => {
  t = await createTestApp('erasure_copies');
  redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  queues = createQueues(redis, prefix);
  outbox = await mkdtemp(path.join(os.tmpdir(), 'rapport-outbox-'));
});
afterAll(async () => {
  await closeQueues(queues);
  redis.disconnect();
  await deleteRedisPrefix(prefix);
  await t.close();
});

it('scrubs import rejections and stored uploads, and removes failed jobs and outbox files', async () => {
  const sold = await sell(t, { email: EMAIL, firstName: 'Quinn', lastName: 'Erasmus', phone: undefined });
  const db = t.database.db;
  const touch = sold.touches.find((x) => x.channel === 'email')!;
  const other = await sell(t, { email: 'someone.else@example.org', phone: undefined });
  const otherTouch = other.touches.find((x) => x.channel === 'email')!;

  // A rejected row quoting the customer, and an upload still waiting to be imported that holds them.
  const row = `X-1,2026-10-01,5,Quinn,${EMAIL.toUpperCase()},Cup,5\n`;
  const { id: importId } = await db
    .insertInto('imports')
    .values({ format: 'csv', status: 'queued', createdBy: 'key:test' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const file = Buffer.from(`external_id,sold_at,total,first_name,email,item_name,unit_price\n${row}`);
  await db.insertInto('importChunks').values({ importId, seq: 0, data: file }).execute();
  await db
    .insertInto('importRejections')
    .values({ importId, line: 2, field: 'email', reason: `"${EMAIL}" is already another customer's` })
    .execute();

  // The touch's job failed for good with a reason quoting the address; an email to them sits in the outbox.
  await queues.email.add('deliver', { touchId: touch.id }, { jobId: touchJobId(touch.id), attempts: 1 });
  await queues.email.add('deliver', { touchId: otherTouch.id }, { jobId: touchJobId(otherTouch.id), delay: 600_000 });
  const failing = new Worker(
    'email',
    async () => {
      throw new Error(`550 no such user ${EMAIL}`);
    },
    { connection: redis, prefix },
  );
  await waitFor(async () => (await queues.email.getJobState(touchJobId(touch.id))) === 'failed', 'the job to fail');
  await failing.close();
  const mine = `20261102T100000000Z-${safeFileName(`<${touch.id}@rapport.test>`)}.eml`;
  const theirs = `20261102T100000000Z-${safeFileName(`<${otherTouch.id}@rapport.test>`)}.eml`;
  await writeFile(path.join(outbox, mine), `To: ${EMAIL}\n\nHello Quinn`);
  await writeFile(path.join(outbox, theirs), 'To: someone.else@example.org\n\nHello');

  const ctx = { ...t.ctx, erasure: createErasurePort(queues, outbox) };
  expect((await eraseCustomerData(ctx, sold.customerId)).erased).toBe(true);

  const rejection = await db.selectFrom('importRejections').selectAll().where('importId', '=', importId).execute();
  expect(JSON.stringify(rejection)).not.toContain(EMAIL);
  const chunk = await db
    .selectFrom('importChunks')
    .select('data')
    .where('importId', '=', importId)
    .executeTakeFirstOrThrow();
  expect(chunk.data.length).toBe(file.length); // same shape: a resumed import reads the same rows
  expect(chunk.data.toString().toLowerCase()).not.toContain(EMAIL);
  expect(chunk.data.toString()).toContain('X-1,2026-10-01,5,');
  expect(await queues.email.getJobState(touchJobId(touch.id))).toBe('unknown');
  expect(await queues.email.getJobState(touchJobId(otherTouch.id))).not.toBe('unknown');
  expect(await readdir(outbox)).toEqual([theirs]);
});

it('scrubs a value that an upload split across two stored chunks, and leaves the other bytes as they were', async () => {
  const email = 'split.across@example.org';
  const sold = await sell(t, { email, firstName: 'Sasha', lastName: 'Boundary', phone: undefined });
  const db = t.database.db;
  const { id: importId } = await db
    .insertInto('imports')
    .values({ format: 'csv', status: 'queued', createdBy: 'key:test' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const file = `external_id,sold_at,total,first_name,email,item_name,unit_price\nX-2,2026-10-01,5,Sasha,${email},Cup,5\n`;
  const cut = file.indexOf(email) + 5; // "split" in the first chunk, ".across@example.org" in the second
  const parts = [file.slice(0, cut), file.slice(cut)];
  await db
    .insertInto('importChunks')
    .values(parts.map((p, seq) => ({ importId, seq, data: Buffer.from(p) })))
    .execute();

  expect((await eraseCustomerData(t.ctx, sold.customerId)).erased).toBe(true);

  const chunks = await db
    .selectFrom('importChunks')
    .select(['seq', 'data'])
    .where('importId', '=', importId)
    .orderBy('seq')
    .execute();
  expect(chunks.map((c) => c.data.length)).toEqual(parts.map((p) => p.length));
  const joined = Buffer.concat(chunks.map((c) => c.data)).toString();
  expect(joined).not.toContain(email);
  expect(joined).not.toContain('Sasha');
  expect(joined).toBe(file.replace('Sasha', 'xxxxx').replace(email, 'x'.repeat(email.length)));
});
