/**
 * The manager's API keys page over app.inject(): a key is created and shown once (then only its prefix), works
 * against the API, is listed with its role and creation time, and is revoked after a confirmation page (then the API
 * refuses it). The last live admin key cannot be revoked (the page says why); bad forms are 400 naming the field
 * and create nothing; a salesperson sees none of it.
 */
import { createTestApp, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';
import { signedIn, type ConsoleClient } from '../../helpers/console-client';
import { createStaff } from '../../../src/services/staff.service';
import { listAllApiKeys } from '../../../src/services/auth.service';

let t: TestApp;
let smtp: TestSmtpServer;
let manager: ConsoleClient;
let sam: ConsoleClient;
let samId: string;
const NOW = new Date('2026-11-02T10:00:00Z');

async function keyCount(): Promise<number> {
  return (await listAllApiKeys(t.ctx)).length;
}

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp('web_keys', NOW, undefined, { smtpUrl: smtp.url });
  await createStaff(t.ctx, { email: 'max@shop.example', name: 'Max Manager', role: 'manager' }, 'test');
  samId = (await createStaff(t.ctx, { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson' }, 'test')).id;
  [manager, sam] = await signedIn(t.app, smtp, 'max@shop.example', 'sam@shop.example');
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

test('the list shows every key with its role, prefix and creation time, never a secret', async () => {
  const page = await manager.get('/console/manager/keys');
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('<th scope="row">test admin</th>');
  expect(page.body).toContain('<th scope="row">test pos</th>');
  expect(page.body).toContain(`<code>${t.adminKey.slice(0, 12)}…</code>`);
  expect(page.body).not.toContain(t.adminKey);
  expect(page.body).not.toContain(t.posKey);
  // Created at the database's time (keys are made outside the test clock): a time with its zone.
  expect(page.body).toMatch(/<td>\w{3} \d{1,2} \w{3} \d{4}, \d\d:\d\d \([^)]+\)<\/td>/);
  expect(page.body).toContain('2 live keys');
});

test('a staff key is created and shown once; it works; the list then shows only its prefix', async () => {
  await manager.get('/console/manager/keys');
  const res = await manager.post('/console/manager/keys', { name: 'Sam phone app', role: 'staff', staffId: samId });
  expect(res.statusCode).toBe(200);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body).toContain('Copy the key now.');
  const key = /id="new-key" value="(rk_staff_[A-Za-z0-9_-]+)"/.exec(res.body)![1]!;
  expect(res.body).toContain('<dt>Whose key</dt><dd>Sam Shaw</dd>');
  const api = await t.app.inject({ method: 'GET', url: '/v1/tasks', headers: t.auth(key) });
  expect(api.statusCode).toBe(200);
  const list = await manager.get('/console/manager/keys');
  expect(list.body).toContain('<th scope="row">Sam phone app</th>');
  expect(list.body).toContain('staff: Sam Shaw');
  expect(list.body).toContain(`<code>${key.slice(0, 12)}…</code>`);
  expect(list.body).not.toContain(key);
  const audit = await t.database.db
    .selectFrom('auditLog')
    .selectAll()
    .where('action', '=', 'api_key.created')
    .execute();
  expect(audit.map((a) => a.actor)).toContain(`staff:${await listStaffId('max@shop.example')}`);
});

async function listStaffId(email: string): Promise<string> {
  const row = await t.database.db.selectFrom('staff').select('id').where('email', '=', email).executeTakeFirstOrThrow();
  return row.id;
}

test('bad forms are answered 400 naming the field, and create no key', async () => {
  const before = await keyCount();
  await manager.get('/console/manager/keys');
  const noName = await manager.post('/console/manager/keys', { name: '  ', role: 'pos' });
  expect(noName.statusCode).toBe(400);
  expect(noName.body).toContain('<a href="#name">Give the key a name');
  expect(noName.body).toContain('id="name-error"');
  const noRole = await manager.post('/console/manager/keys', { name: 'x', role: 'root' });
  expect(noRole.statusCode).toBe(400);
  expect(noRole.body).toContain('<a href="#role">Choose what the key may do.</a>');
  const noStaff = await manager.post('/console/manager/keys', { name: 'y', role: 'staff' });
  expect(noStaff.statusCode).toBe(400);
  expect(noStaff.body).toContain('id="staffId-error"');
  expect(noStaff.body).toContain('value="y"');
  expect(await keyCount()).toBe(before);
});

test('revoking asks first, then revokes: the API refuses the key from then on', async () => {
  await manager.get('/console/manager/keys');
  const made = await manager.post('/console/manager/keys', { name: 'old till', role: 'pos' });
  const key = /id="new-key" value="([^"]+)"/.exec(made.body)![1]!;
  const id = (await listAllApiKeys(t.ctx)).find((k) => k.name === 'old till')!.id;
  const confirm = await manager.get(`/console/manager/keys/${id}/revoke`);
  expect(confirm.statusCode).toBe(200);
  expect(confirm.body).toContain('Revoke the key “old till”?');
  expect(
    (
      await t.app.inject({
        method: 'GET',
        url: '/v1/imports/00000000-0000-4000-8000-000000000000',
        headers: t.auth(key),
      })
    ).statusCode,
  ).toBe(404);
  const done = await manager.post(`/console/manager/keys/${id}/revoke`);
  expect(done.statusCode).toBe(303);
  expect(done.headers.location).toBe(`/console/manager/keys?revoked=${id}`);
  const list = await manager.get(done.headers.location as string);
  expect(list.body).toContain('The key “old till” is revoked');
  expect(list.body).toMatch(/<th scope="row">old till<\/th>[\s\S]*?revoked Mon 2 Nov 2026/);
  expect(
    (
      await t.app.inject({
        method: 'GET',
        url: '/v1/imports/00000000-0000-4000-8000-000000000000',
        headers: t.auth(key),
      })
    ).statusCode,
  ).toBe(401);
  // Revoked already: its revoke page is gone.
  expect((await manager.get(`/console/manager/keys/${id}/revoke`)).statusCode).toBe(404);
});

test('the last live admin key cannot be revoked: the page says why and the key still works', async () => {
  const admin = (await listAllApiKeys(t.ctx)).find((k) => k.name === 'test admin')!;
  await manager.get(`/console/manager/keys/${admin.id}/revoke`);
  const refused = await manager.post(`/console/manager/keys/${admin.id}/revoke`);
  expect(refused.statusCode).toBe(409);
  expect(refused.body).toContain('“test admin” is the last live administrator key');
  expect((await t.app.inject({ method: 'GET', url: '/v1/keys', headers: t.auth(t.adminKey) })).statusCode).toBe(200);
});

test('a salesperson sees none of it, and a revoke without the CSRF token is refused', async () => {
  expect((await sam.get('/console/manager/keys')).statusCode).toBe(404);
  const pos = (await listAllApiKeys(t.ctx)).find((k) => k.name === 'test pos')!;
  expect((await sam.post(`/console/manager/keys/${pos.id}/revoke`)).statusCode).toBe(404);
  await manager.get('/console/manager/keys');
  expect((await manager.post(`/console/manager/keys/${pos.id}/revoke`, {}, null)).statusCode).toBe(403);
  expect((await listAllApiKeys(t.ctx)).find((k) => k.id === pos.id)!.revokedAt).toBeNull();
});
