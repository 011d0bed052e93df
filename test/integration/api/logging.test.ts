/** Secrets and personal data never reach the logs: a sale, a search, a conflict and an error, all at debug level. */
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/logger';
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';

let t: TestApp;
const lines: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  t = await createTestApp('logging', undefined, createLogger('debug', 'test', sink));
});
afterAll(async () => {
  await t.close();
});

it('logs requests without personal data, keys or customer tokens', async () => {
  const body = saleBody(
    { externalId: 'LOG-1' },
    { email: 'private.person@example.com', phone: '+61 2 5550 9876', lastName: 'Zyxwvut' },
  );
  expect(
    (await t.app.inject({ method: 'POST', url: '/v1/sales', headers: t.auth(t.posKey), payload: body })).statusCode,
  ).toBe(201);
  const conflict = { ...body, total: { amount: '1.00', currency: 'AUD' } };
  expect(
    (await t.app.inject({ method: 'POST', url: '/v1/sales', headers: t.auth(t.posKey), payload: conflict })).statusCode,
  ).toBe(409);
  await t.app.inject({
    method: 'GET',
    url: '/v1/customers?email=private.person%40example.com',
    headers: t.auth(t.adminKey),
  });
  await t.app.inject({ method: 'GET', url: '/p/v1.secret-token-value.abc' });
  await t.app.inject({ method: 'POST', url: '/v1/sales', headers: t.auth('rk_pos_not-a-real-key'), payload: body });

  const log = lines.join('');
  expect(log).toContain('incoming request'); // the sink really received the request logs
  for (const secret of [
    'private.person',
    '5550 9876',
    'Zyxwvut',
    t.posKey,
    t.adminKey,
    'rk_pos_not-a-real-key',
    'secret-token-value',
  ]) {
    expect([secret, log.includes(secret)]).toEqual([secret, false]);
  }
  expect(log).toContain('/v1/customers?email=[redacted]');
});

it('logs a sale intake request in one line with the request and its outcome, and others in two', async () => {
  lines.length = 0;
  const body = saleBody(
    { externalId: 'LOG-2' },
    { externalId: 'C-LOG-2', email: 'log2@example.com', phone: '+61 2 5550 1111' },
  );
  expect(
    (await t.app.inject({ method: 'POST', url: '/v1/sales', headers: t.auth(t.posKey), payload: body })).statusCode,
  ).toBe(201);
  await t.app.inject({ method: 'GET', url: '/v1/keys', headers: t.auth(t.adminKey) });
  const entries = lines
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.reqId);
  const intake = entries.filter(
    (e) => e.req?.url === '/v1/sales' || entries.some((o) => o.reqId === e.reqId && o.req?.url === '/v1/sales'),
  );
  expect(intake.map((e) => e.msg)).toEqual(['request completed']);
  expect(intake[0]).toMatchObject({
    req: { method: 'POST', url: '/v1/sales', route: '/v1/sales' },
    res: { statusCode: 201 },
    responseTime: expect.any(Number),
  });
  const other = entries.filter((e) => e.reqId !== intake[0].reqId);
  expect(other.map((e) => e.msg)).toEqual(['incoming request', 'request completed']);
});
