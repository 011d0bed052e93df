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
  const created = await t.app.inject({ method: 'POST', url: '/v1/keys', headers: t.auth(t.adminKey), payload: { name: 'till 2', role: 'pos' } });
  expect(created.statusCode).toBe(201);
  const { id, key } = created.json();
  expect(key).toMatch(/^rk_pos_/);
  const stored = await t.database.db.selectFrom('apiKeys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  expect(stored.keyHash).toBe(hashKey(key));
  expect(JSON.stringify(stored)).not.toContain(key);
  const listed = await t.app.inject({ method: 'GET', url: '/v1/keys', headers: t.auth(t.adminKey) });
  expect(JSON.stringify(listed.json())).not.toContain(key);

  expect((await t.app.inject({ method: 'DELETE', url: `/v1/keys/${id}`, headers: t.auth(t.adminKey) })).statusCode).toBe(204);
  expect((await t.app.inject({ method: 'GET', url: '/v1/customers?email=a@b.co', headers: t.auth(key) })).statusCode).toBe(401);
  const trail = await t.database.db.selectFrom('auditLog').select(['action', 'detail']).where('entityId', '=', id).orderBy('id').execute();
  expect(trail.map((e) => e.action)).toEqual(['api_key.created', 'api_key.revoked']);
  // The key itself is kept nowhere: not in the audit trail, not in stored answers.
  const answers = await t.database.db.selectFrom('idempotencyKeys').select('response').execute();
  expect(JSON.stringify([trail, answers])).not.toContain(key);
});

it('needs a staff member for a staff key', async () => {
  const res = await t.app.inject({ method: 'POST', url: '/v1/keys', headers: t.auth(t.adminKey), payload: { name: 'sam', role: 'staff' } });
  expect(res.statusCode).toBe(400);
  expect(res.json().error.details.field).toBe('staffId');
});

it('does not bring a revoked RAPPORT_ADMIN_KEY back at the next start', async () => {
  const configured = 'configured-admin-key-0123456789';
  await ensureAdminKey(t.database.db, configured);
  const keys = (await t.app.inject({ method: 'GET', url: '/v1/keys', headers: t.auth(configured) })).json().keys;
  const id = keys.find((k: { name: string }) => k.name === 'RAPPORT_ADMIN_KEY').id;
  expect((await t.app.inject({ method: 'DELETE', url: `/v1/keys/${id}`, headers: t.auth(t.adminKey) })).statusCode).toBe(204);
  await ensureAdminKey(t.database.db, configured); // the next start
  expect((await t.app.inject({ method: 'GET', url: '/v1/keys', headers: t.auth(configured) })).statusCode).toBe(401);
});
