/**
 * Issue 13: what the schemas accept must never fail later. One test per numbered finding (each answered 500, or broke
 * later requests, before its fix), then the changes of meaning that type coercion made, and the guards around keys,
 * erased customers and slow or oversized requests.
 */
import net from 'node:net';
import { Readable, Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { createLogger } from '../../../src/logger';
import { preferenceToken } from '../../helpers/links';
import { eraseCustomerData } from '../../../src/services/customer-control.service';
import { createImport, processImport } from '../../../src/services/import.service';
import { reportMisconfiguredSegments } from '../../../src/services/segment.service';
import { buildApp } from '../../../src/api/app';
import { createApiMetrics } from '../../../src/api/metrics';
import { createApiKey } from '../../../src/services/auth.service';
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';

let t: TestApp;
const URN = 'urn:uuid:11111111-2222-4333-8444-555555555555';

beforeAll(async () => {
  t = await createTestApp('inputpolicy');
});
afterAll(async () => {
  await t.close();
});

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const call = (method: Method, url: string, payload?: unknown, key = t.adminKey) =>
  t.app.inject({ method, url, headers: t.auth(key), ...(payload === undefined ? {} : { payload: payload as object }) });
const field = (res: { json(): { error: { details: { field?: string } } } }) => res.json().error.details.field;

async function sale(externalId: string, patch: Record<string, unknown> = {}, customer: Record<string, unknown> = {}) {
  return call(
    'POST',
    '/v1/sales',
    saleBody({ externalId, ...patch }, { externalId: `C-${externalId}`, ...customer }),
    t.posKey,
  );
}

async function staffMember(email: string): Promise<string> {
  const res = await call('POST', '/v1/staff', { email, name: 'Someone', role: 'salesperson' });
  expect(res.statusCode).toBe(201);
  return res.json().id;
}

async function rowCounts(): Promise<Record<string, number>> {
  const tables = await sql<{ name: string }>`
    select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'
    and table_name not like 'kysely_%'`.execute(t.database.db);
  const counts: Record<string, number> = {};
  for (const { name } of tables.rows) {
    const r = await sql<{ n: string }>`select count(*) as n from ${sql.table(name)}`.execute(t.database.db);
    counts[name] = Number(r.rows[0].n);
  }
  return counts;
}

describe('finding 1: a urn:uuid id is not a uuid', () => {
  it('is refused in paths (400), queries and bodies, naming the field', async () => {
    const before = await rowCounts();
    const path = await call('GET', `/v1/customers/${URN}`);
    expect([path.statusCode, field(path)]).toEqual([400, 'id']);
    const query = await call('GET', `/v1/tasks?assignee=${URN}`);
    expect([query.statusCode, field(query)]).toEqual([400, 'assignee']);
    const manager = await call('POST', '/v1/staff', {
      email: 'u1@shop.example',
      name: 'U',
      role: 'salesperson',
      managerId: URN,
    });
    expect([manager.statusCode, field(manager)]).toEqual([400, 'managerId']);
    const key = await call('POST', '/v1/keys', { name: 'k', role: 'staff', staffId: URN });
    expect([key.statusCode, field(key)]).toEqual([400, 'staffId']);
    const newsletter = await call('POST', '/v1/newsletters', {
      subject: 'Hi',
      body: 'Hello',
      segmentId: URN,
      sendAt: '2026-12-01T10:00:00Z',
    });
    expect([newsletter.statusCode, field(newsletter)]).toEqual([400, 'segmentId']);
    expect(await rowCounts()).toEqual(before);
  });
});

describe('finding 2: a NUL character in any stored string', () => {
  it('is refused with a 400 naming the field, in JSON bodies, forms and query strings', async () => {
    const before = await rowCounts();
    const inSale = await sale('NUL-1', {}, { firstName: 'A\u0000nn' });
    expect([inSale.statusCode, field(inSale)]).toEqual([400, 'customer.firstName']);
    expect(inSale.json().error.message).toContain('NUL');
    const inStaff = await call('POST', '/v1/staff', { email: 'n@shop.example', name: 'N\u0000', role: 'salesperson' });
    expect([inStaff.statusCode, field(inStaff)]).toEqual([400, 'name']);
    const inKey = await call('POST', '/v1/keys', { name: 'till\u0000', role: 'pos' });
    expect([inKey.statusCode, field(inKey)]).toEqual([400, 'name']);
    const inNewsletter = await call('POST', '/v1/newsletters', {
      subject: 'Hi',
      body: 'Hel\u0000lo',
      sendAt: '2026-12-01T10:00:00Z',
    });
    expect([inNewsletter.statusCode, field(inNewsletter)]).toEqual([400, 'body']);
    const inImportName = await t.app.inject({
      method: 'POST',
      url: `/v1/imports?fileName=${encodeURIComponent('sales\u0000.csv')}`,
      headers: { ...t.auth(t.posKey), 'content-type': 'application/x-ndjson' },
      payload: '{}\n',
    });
    expect([inImportName.statusCode, field(inImportName)]).toEqual([400, 'fileName']);
    expect(await rowCounts()).toEqual(before);
  });

  it('is refused in a note and in the customer page contact form', async () => {
    const sold = await sale('NUL-2');
    expect(sold.statusCode).toBe(201);
    const customerId = sold.json().customer.id;
    const before = await rowCounts();
    const note = await call('POST', `/v1/customers/${customerId}/notes`, { body: 'called\u0000' });
    expect([note.statusCode, field(note)]).toEqual([400, 'body']);
    const token = preferenceToken(customerId, t.ctx.clock.now());
    const contact = await t.app.inject({
      method: 'POST',
      url: `/p/${token}/contact`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'firstName=A%00nn',
    });
    expect(contact.statusCode).toBe(400);
    expect(contact.body).toContain('firstName');
    expect(await rowCounts()).toEqual(before);
  });
});

describe('finding 3: a lone surrogate in a field stored as JSON', () => {
  it('is refused in a sale address, segment rules and the contact form (sent as JSON)', async () => {
    const sold = await sale('SUR-0');
    const before = await rowCounts();
    const address = await sale(
      'SUR-1',
      {},
      { address: { lines: ['1 Main St \ud800'], city: 'Sydney', country: 'AU' } },
    );
    expect([address.statusCode, field(address)]).toEqual([400, 'customer.address.lines.0']);
    expect(address.json().error.message).toContain('surrogate');
    const rules = await call('POST', '/v1/segments', { name: 'Sofas', match: { categories: ['sofa\udc00'] } });
    expect([rules.statusCode, field(rules)]).toEqual([400, 'match.categories.0']);
    const token = preferenceToken(sold.json().customer.id, t.ctx.clock.now());
    const contact = await t.app.inject({
      method: 'POST',
      url: `/p/${token}/contact`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ addressLines: '2 High St \ud800', country: 'AU' }),
    });
    expect(contact.statusCode).toBe(400);
    expect(contact.body).toContain('addressLines');
    expect(await rowCounts()).toEqual(before);
  });
});

describe('finding 4: "Infinity" is not an integer', () => {
  it('is refused in query strings, and numbers in query strings are digits only', async () => {
    for (const limit of ['Infinity', '1e3', '-0', '0x10', ' 5', '5.0']) {
      const res = await call('GET', `/v1/tasks?limit=${encodeURIComponent(limit)}`);
      expect([limit, res.statusCode, field(res)]).toEqual([limit, 400, 'limit']);
    }
    expect((await call('GET', '/v1/tasks?limit=5')).statusCode).toBe(200);
  });

  it('is refused in bodies: priority, workingDays, an item quantity', async () => {
    const before = await rowCounts();
    const priority = await call('POST', '/v1/segments', { name: 'Inf', priority: 'Infinity' });
    expect([priority.statusCode, field(priority)]).toEqual([400, 'priority']);
    const days = await call('POST', '/v1/staff', {
      email: 'inf@shop.example',
      name: 'Inf',
      role: 'salesperson',
      workingDays: ['Infinity'],
    });
    expect([days.statusCode, field(days)]).toEqual([400, 'workingDays.0']);
    const quantity = await sale('INF-1', {
      items: [{ sku: 'S', name: 'Sofa', quantity: 'Infinity', unitPrice: '10.00' }],
    });
    expect([quantity.statusCode, field(quantity)]).toEqual([400, 'items.0.quantity']);
    expect(await rowCounts()).toEqual(before);
  });
});

describe('finding 5: year 0000 is not a date', () => {
  it('is refused as soldAt, as ?date= of letter batches and as report bounds', async () => {
    const before = await rowCounts();
    const soldAt = await sale('Y0-1', { soldAt: '0000-01-01T00:00:00Z' });
    expect([soldAt.statusCode, field(soldAt)]).toEqual([400, 'soldAt']);
    expect(soldAt.json().error.message).toContain('1900');
    const late = await sale('Y0-2', { soldAt: '2201-01-01T00:00:00Z' });
    expect([late.statusCode, field(late)]).toEqual([400, 'soldAt']);
    const date = await call('GET', '/v1/letters/batches?date=0000-01-01');
    expect([date.statusCode, field(date)]).toEqual([400, 'date']);
    const report = await call('GET', '/v1/reports/summary?from=0000-01-01');
    expect([report.statusCode, field(report)]).toEqual([400, 'from']);
    const due = await call('GET', '/v1/tasks?due=0000-01-01');
    expect([due.statusCode, field(due)]).toEqual([400, 'due']);
    const offset = await sale('Y0-3', { soldAt: '2026-11-01T10:00:00+23:00' });
    expect([offset.statusCode, field(offset)]).toEqual([400, 'soldAt']);
    expect(await rowCounts()).toEqual(before);
  });
});

describe('finding 6: an unknown id that would reach a foreign key', () => {
  it('is answered 400 naming the field: PATCH /v1/staff/:id managerId, POST /v1/keys staffId', async () => {
    const id = await staffMember('six@shop.example');
    const unknown = '11111111-2222-4333-8444-555555555555';
    const before = await rowCounts();
    const manager = await call('PATCH', `/v1/staff/${id}`, { managerId: unknown });
    expect([manager.statusCode, field(manager)]).toEqual([400, 'managerId']);
    const key = await call('POST', '/v1/keys', { name: 'till', role: 'pos', staffId: unknown });
    expect([key.statusCode, field(key)]).toEqual([400, 'staffId']);
    const path = await call('PATCH', `/v1/staff/${unknown}`, { name: 'Nobody' });
    expect(path.statusCode).toBe(404);
    expect(await rowCounts()).toEqual(before);
  });

  it('checks a staff member as a whole: a patched end of day before the stored start, a manager loop', async () => {
    const a = await staffMember('loop-a@shop.example');
    const b = await staffMember('loop-b@shop.example');
    expect((await call('PATCH', `/v1/staff/${a}`, { workStart: '10:00' })).statusCode).toBe(200);
    const hours = await call('PATCH', `/v1/staff/${a}`, { workEnd: '09:00' });
    expect([hours.statusCode, field(hours)]).toEqual([400, 'workEnd']);
    expect((await call('PATCH', `/v1/staff/${b}`, { managerId: a })).statusCode).toBe(200);
    const loop = await call('PATCH', `/v1/staff/${a}`, { managerId: b });
    expect([loop.statusCode, field(loop)]).toEqual([400, 'managerId']);
  });
});

describe('finding 7: a stored segment can never break later sales', () => {
  it('refuses sendWindow.days ["Infinity"] when it is saved', async () => {
    const res = await call('POST', '/v1/segments', {
      name: 'Poison',
      match: { sources: ['poison-pos'] },
      sendWindow: { days: ['Infinity'], start: '09:00', end: '17:00' },
    });
    expect([res.statusCode, field(res)]).toEqual([400, 'sendWindow.days.0']);
  });

  it('skips a segment poisoned in the database: its sales go to the default segment, with a warning', async () => {
    const made = await call('POST', '/v1/segments', { name: 'Poisoned', match: { sources: ['poisoned-pos'] } });
    expect(made.statusCode).toBe(201);
    await sql`update segments set send_window = '{"days": [null], "start": "09:00", "end": "17:00"}'::jsonb
      where id = ${made.json().id}`.execute(t.database.db);
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const found = await reportMisconfiguredSegments({ ...t.ctx, log: createLogger('info', 'test', sink) });
    expect(found).toEqual([{ name: 'Poisoned', problem: expect.stringContaining('sendWindow.days.0') }]);
    expect(lines.join('')).toContain('"segment":"Poisoned"');

    const res = await sale('POISON-1', { source: 'poisoned-pos' });
    expect(res.statusCode).toBe(201);
    expect(res.json().segment.name).toBe('default');
    expect(res.json().warnings).toEqual([expect.stringContaining('segment "Poisoned" is misconfigured')]);
    const other = await sale('POISON-2');
    expect([other.statusCode, other.json().warnings]).toEqual([201, undefined]);
  });

  it('uses a poisoned default segment with its built-in send window, never a 500', async () => {
    await sql`update segments set send_window = '{"days": [null], "start": "09:00", "end": "17:00"}'::jsonb
      where is_default`.execute(t.database.db);
    try {
      const res = await sale('POISON-3');
      expect(res.statusCode).toBe(201);
      expect(res.json().segment.name).toBe('default');
      expect(res.json().touches.length).toBeGreaterThan(0);
      expect(res.json().warnings).toEqual([expect.stringContaining('the default segment is misconfigured')]);
    } finally {
      await sql`update segments set send_window = '{"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00"}'::jsonb
        where is_default`.execute(t.database.db);
    }
  });
});

describe('finding 8: an import row the database would refuse', () => {
  it('is rejected by its line and field, and the other rows are imported', async () => {
    const row = (id: string, patch: Record<string, unknown> = {}, customer: Record<string, unknown> = {}) =>
      JSON.stringify(
        saleBody({ externalId: id, ...patch }, { externalId: `IC-${id}`, email: `${id}@example.com`, ...customer }),
      );
    const file = [
      row('IMP-1'),
      row('IMP-2', {}, { firstName: 'N\u0000ul' }),
      row('IMP-3', {}, { address: { lines: ['x \ud800'], country: 'AU' } }),
      row('IMP-4', { soldAt: '0000-06-01T10:00:00Z' }),
      row('IMP-5'),
      '{"externalId": "IMP-6\\u0000", "source": 1}',
    ].join('\n');
    const created = await createImport(
      t.ctx,
      { format: 'ndjson', fileName: 'sales.ndjson' },
      Readable.from([Buffer.from(file)]),
      'test',
    );
    const report = await processImport(t.ctx, created.id);
    expect(report.status).toBe('completed');
    expect(report.imported).toBe(2);
    expect(report.rejections.map((r) => [r.line, r.field])).toEqual([
      [2, 'customer.firstName'],
      [3, 'customer.address.lines.0'],
      [4, 'soldAt'],
      [6, 'externalId'],
    ]);
  });

  it('rejects a CSV row holding NUL by its line and column', async () => {
    const csv = [
      'external_id,sold_at,total,first_name,email,item_name,quantity,unit_price,source,currency',
      'CSV-1,2026-10-01,10.00,Ann,csv1@example.com,Mug,1,10.00,shop,AUD',
      'CSV-2,2026-10-01,10.00,B\u0000b,csv2@example.com,Mug,1,10.00,shop,AUD',
    ].join('\n');
    const created = await createImport(t.ctx, { format: 'csv' }, Readable.from([Buffer.from(csv)]), 'test');
    const report = await processImport(t.ctx, created.id);
    expect(report.status).toBe('completed');
    expect(report.imported).toBe(1);
    expect(report.rejections).toEqual([expect.objectContaining({ line: 3 })]);
    expect(report.rejections[0].reason).toContain('NUL');
  });
});

describe('one email validator', () => {
  // Each of these passed one path and failed another before the API, imports, the contact form and the business's
  // From address shared isEmailAddress.
  const bad = ['ann@shop_x.example', 'ann..b@shop.example', 'ann@shop', 'ann@-shop.example', 'ann@shop.example.'];

  it('refuses the same addresses in a sale, an import row, the contact form and the From address', async () => {
    const sold = await sale('EMAIL-0', {}, { email: 'email-0@example.com', phone: '+61 2 5550 9000' });
    const token = preferenceToken(sold.json().customer.id, t.ctx.clock.now());
    for (const [i, email] of bad.entries()) {
      const api = await sale(`EMAIL-${i + 1}`, {}, { email });
      expect([email, api.statusCode, field(api)]).toEqual([email, 400, 'customer.email']);

      const row = JSON.stringify(saleBody({ externalId: `EMAIL-I${i}` }, { externalId: `IE-${i}`, email }));
      const created = await createImport(
        t.ctx,
        { format: 'ndjson', fileName: 'e.ndjson' },
        Readable.from([Buffer.from(row)]),
        'test',
      );
      const report = await processImport(t.ctx, created.id);
      expect([email, report.imported, report.rejections.map((r) => r.field)]).toEqual([email, 0, ['customer.email']]);

      const contact = await t.app.inject({
        method: 'POST',
        url: `/p/${token}/contact`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `email=${encodeURIComponent(email)}`,
      });
      expect([email, contact.statusCode]).toEqual([email, 400]);

      const from = await call('PUT', '/v1/settings/business', { name: 'Shop', emailFrom: `Shop <${email}>` });
      expect([email, from.statusCode, field(from)]).toEqual([email, 400, 'emailFrom']);
    }
  });

  it('accepts the same good address everywhere', async () => {
    const email = 'Ann.O-Neil+shop@mail.shop-x.example';
    expect((await sale('EMAIL-OK', {}, { email })).statusCode).toBe(201);
    expect(
      (await call('PUT', '/v1/settings/business', { name: 'Shop', emailFrom: `Shop <${email}>` })).statusCode,
    ).toBe(200);
  });
});

describe('type coercion no longer changes what was meant', () => {
  it('refuses {"active": null}, "priority": null, segmentId "" and name true', async () => {
    const id = await staffMember('coerce@shop.example');
    const before = await rowCounts();
    const active = await call('PATCH', `/v1/staff/${id}`, { active: null });
    expect([active.statusCode, field(active)]).toEqual([400, 'active']);
    const priority = await call('POST', '/v1/segments', { name: 'Nul', priority: null });
    expect([priority.statusCode, field(priority)]).toEqual([400, 'priority']);
    const segment = await call('POST', '/v1/newsletters', {
      subject: 'Hi',
      body: 'Hello',
      segmentId: '',
      sendAt: '2026-12-01T10:00:00Z',
    });
    expect([segment.statusCode, field(segment)]).toEqual([400, 'segmentId']);
    const name = await call('POST', '/v1/staff', { email: 'true@shop.example', name: true, role: 'salesperson' });
    expect([name.statusCode, field(name)]).toEqual([400, 'name']);
    expect(await rowCounts()).toEqual(before);
    const staff = (await call('GET', '/v1/staff')).json().staff.find((s: { id: string }) => s.id === id);
    expect(staff.active).toBe(true);
  });
});

describe('keys that lock an admin out', () => {
  it('refuses to revoke the key making the request, and the last live admin key (409 naming why)', async () => {
    const keys = (await call('GET', '/v1/keys')).json().keys as { id: string; role: string; name: string }[];
    const own = keys.find((k) => k.name === 'test admin')!;
    const self = await call('DELETE', `/v1/keys/${own.id}`);
    expect([self.statusCode, self.json().error.details.reason]).toEqual([409, 'own_key']);
    const second = await call('POST', '/v1/keys', { name: 'second admin', role: 'admin' });
    expect(second.statusCode).toBe(201);
    // The second admin revokes the first; then the second is the last one and cannot be revoked by anyone.
    expect((await call('DELETE', `/v1/keys/${own.id}`, undefined, second.json().key)).statusCode).toBe(204);
    const third = await createApiKey(t.database.db, { name: 'break-glass', role: 'admin' });
    await sql`update api_keys set revoked_at = now() where id = ${third.apiKey.id}`.execute(t.database.db);
    const last = await call('DELETE', `/v1/keys/${second.json().id}`, undefined, second.json().key);
    expect(last.statusCode).toBe(409);
    t.adminKey = second.json().key;
  });
});

describe('an erased customer', () => {
  it('accepts no note and no preference change', async () => {
    const sold = await sale('ERASE-1');
    const customerId = sold.json().customer.id;
    const token = preferenceToken(customerId, t.ctx.clock.now());
    const form = (url: string, payload: string) =>
      t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload });
    await eraseCustomerData(t.ctx, customerId);
    const before = await rowCounts();
    const note = await call('POST', `/v1/customers/${customerId}/notes`, { body: 'called them' });
    expect([note.statusCode, field(note)]).toEqual([409, 'customer']);
    // An erased customer's links answer 404 (issue 14): there is nothing left to change.
    const prefs = await form(`/p/${token}/preferences`, 'form=preferences&email=on');
    expect(prefs.statusCode).toBe(404);
    expect(await rowCounts()).toEqual(before);
  });
});

describe('slow and oversized requests', () => {
  let url: { host: string; port: number };
  let close: () => Promise<void>;
  beforeAll(async () => {
    const app = await buildApp({
      ctx: t.ctx,
      metrics: createApiMetrics(t.ctx),
      redisPing: async () => undefined,
      bodyTimeouts: { totalMs: 300, idleMs: 300 },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address() as AddressInfo;
    url = { host: '127.0.0.1', port: address.port };
    close = () => app.close();
  });
  afterAll(async () => {
    await close();
  });

  /** exchange writes `request`, and returns what the server sent until it closed the connection. */
  function exchange(request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(url.port, url.host);
      let received = '';
      socket.on('data', (d) => (received += String(d)));
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
      socket.write(request);
    });
  }

  it('answers a body that stops arriving 408 and closes the connection', async () => {
    const head =
      'POST /v1/sales HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Authorization: Bearer ${t.posKey}\r\nContent-Length: 100\r\n\r\n{"externalId":`;
    const answer = await exchange(head);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(answer).toContain('request_timeout');
  });

  it('answers headers too large 431 with Connection: close', async () => {
    const answer = await exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 431/);
    expect(answer.toLowerCase()).toContain('connection: close');
  });
});
