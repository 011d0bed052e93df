/** API keys: created by admins and shown once, stored hashed, role-checked, revocable for good. */
import { ensureAdminKey, hashKey } from '../../../src/services/auth.service';
import { createTestApp, type TestApp } from '../../helpers/app';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp('keys');
});
afterAll(async () => {
  await t.close();
});

it('creates a key shown once, stored only as a hash, and revokes it', async () => {
  const created = await t.app.inject({
    method: 'POST',
    url: '/v1/keys',
    headers: t.auth(t.adminKey),
    payload: { name: 'till 2', role: 'pos' },
  });
  expect(created.statusCode).toBe(201);
  const { id, key } = created.json();
  expect(key).toMatch(/^rk_pos_/);
  const stored = await t.database.db.selectFrom('apiKeys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  expect(stored.keyHash).toBe(hashKey(key));
  expect(JSON.stringify(stored)).not.toContain(key);
  const listed = await t.app.inject({ method: 'GET', url: '/v1/keys', headers: t.auth(t.adminKey) });
  expect(JSON.stringify(listed.json())).not.toContain(key);

  expect(
    (await t.app.inject({ method: 'DELETE', url: `/v1/keys/${id}`, headers: t.auth(t.adminKey) })).statusCode,
  ).toBe(204);
  expect(
    (await t.app.inject({ method: 'GET', url: '/v1/customers?email=a@b.co', headers: t.auth(key) })).statusCode,
  ).toBe(401);
  const trail = await t.database.db
    .selectFrom('auditLog')
    .select(['action', 'detail'])
    .where('entityId', '=', id)
    .orderBy('id')
    .execute();
  expect(trail.map((e) => e.action)).toEqual(['api_key.created', 'api_key.revoked']);
  // The key itself is kept nowhere: not in the audit trail, not in stored answers.
  const answers = await t.database.db.selectFrom('idempotencyKeys').select('response').execute();
  expect(JSON.stringify([trail, answers])).not.toContain(key);
});

it('stops a key that was just used (and so is cached) the moment it is revoked', async () => {
  const { id, key } = (
    await t.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: t.auth(t.adminKey),
      payload: { name: 'till 3', role: 'admin' },
    })
  ).json();
  expect((await t.app.inject({ method: 'GET', url: '/v1/keys', headers: t.auth(key) })).statusCode).toBe(200);
  expect(
    (await t.app.inject({ method: 'DELETE', url: `/v1/keys/${id}`, headers: t.auth(t.adminKey) })).statusCode,
  ).toBe(204);
  expect((await t.app.inject({ method: 'GET', url: '/v1/keys', headers: t.auth(key) })).statusCode).toBe(401);
});

it('needs a staff member for a staff key', async () => {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/keys',
    headers: t.auth(t.adminKey),
    payload: { name: 'sam', role: 'staff' },
  });
  expect(res.statusCode).toBe(400);
  expect(res.json().error.details.field).toBe('staffId');
});

describe('RAPPORT_ADMIN_KEY', () => {
  const at = new Date('2026-11-02T10:00:00Z');
  const listed = async (key: string) =>
    (await t.app.inject({ method: 'GET', url: '/v1/keys', headers: t.auth(key) })).json().keys as {
      id: string;
      name: string;
      prefix: string;
    }[];

  it('stores only a short prefix of the key beside its hash', async () => {
    const configured = 'configured-admin-key-prefix-0123456789';
    await ensureAdminKey(t.database.db, configured, at);
    const key = (await listed(configured)).find((k) => k.name === 'RAPPORT_ADMIN_KEY')!;
    expect(key.prefix).toBe('config');
    const rows = await t.database.db
      .selectFrom('apiKeys')
      .select(['prefix', 'keyHash'])
      .where('id', '=', key.id)
      .execute();
    expect(rows).toEqual([{ prefix: 'config', keyHash: hashKey(configured) }]);
  });

  it('revokes the old key when the variable changes, and brings a revoked key back when it is set again', async () => {
    const first = 'first-configured-admin-key-0123456789';
    const second = 'second-configured-admin-key-0123456789';
    await ensureAdminKey(t.database.db, first, at);
    const id = (await listed(first)).find((k) => k.prefix === 'first-')!.id;
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/v1/keys/${id}`, headers: t.auth(t.adminKey) })).statusCode,
    ).toBe(204);
    await ensureAdminKey(t.database.db, first, at); // the next start: the revoked key is live again
    expect((await t.app.inject({ method: 'GET', url: '/v1/keys', headers: t.auth(first) })).statusCode).toBe(200);

    await ensureAdminKey(t.database.db, second, at); // the variable changed: the old key stops
    expect((await t.app.inject({ method: 'GET', url: '/v1/keys', headers: t.auth(first) })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/v1/keys', headers: t.auth(second) })).statusCode).toBe(200);
    const actions = await t.database.db
      .selectFrom('auditLog')
      .select('action')
      .where('actor', '=', 'config:RAPPORT_ADMIN_KEY')
      .execute();
    // Revoked: the previous test's key (when `first` was set) and `first` (when `second` was).
    expect(actions.map((a) => a.action).sort()).toEqual(['api_key.restored', 'api_key.revoked', 'api_key.revoked']);
  });
});

describe('Idempotency-Key', () => {
  const staff = (email: string) => ({ email, name: 'Pat Doe', role: 'manager' });
  const post = (key: string, payload: object) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/staff',
      headers: { ...t.auth(t.adminKey), 'idempotency-key': key },
      payload,
    });

  it('runs concurrent requests with one key once, and replays the answer afterwards', async () => {
    // Newsletters have no natural unique key: without the claim, each concurrent request would publish one.
    const edition = { subject: 'News', body: 'Dear {{ customer.firstName }}, news.', sendAt: '2027-01-01T09:00:00Z' };
    const publish = () =>
      t.app.inject({
        method: 'POST',
        url: '/v1/newsletters',
        headers: { ...t.auth(t.adminKey), 'idempotency-key': 'idem-race' },
        payload: edition,
      });
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map(publish));
    const codes = results.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 201).length).toBeGreaterThanOrEqual(1);
    expect(codes.every((c) => c === 201 || c === 409)).toBe(true); // 409: the first was still running
    const replay = await publish();
    expect([replay.statusCode, replay.headers['idempotent-replay']]).toEqual([201, 'true']);
    const editions = await t.database.db.selectFrom('newsletters').select('id').execute();
    expect(editions).toHaveLength(1);
  });

  it('does not keep an error: the same key may be used again after a 400', async () => {
    // Refused by the service, after the key was claimed: the claim is released, not kept.
    const bad = await post('idem-retry', {
      ...staff('pat.retry@shop.example'),
      managerId: '00000000-0000-4000-8000-000000000000',
    });
    expect([bad.statusCode, bad.json().error.details.field]).toEqual([400, 'managerId']);
    const good = await post('idem-retry', staff('pat.retry@shop.example'));
    expect(good.statusCode).toBe(201);
  });

  it('refuses the same key with another body', async () => {
    expect((await post('idem-body', staff('pat.a@shop.example'))).statusCode).toBe(201);
    const other = await post('idem-body', staff('pat.b@shop.example'));
    expect(other.statusCode).toBe(409);
    expect(other.json().error.details.field).toBe('Idempotency-Key');
  });
});
