/**
 * Property (fast-check): for every operation of the OpenAPI document (app.swagger(), so routes added later are
 * covered without touching this file) and every caller (pos, staff and admin keys, and none), generated paths, query
 * strings and bodies, laced with NUL, lone surrogates, "Infinity", urn:uuid ids and year 0000, never get a 5xx, and a
 * refused request (4xx) changes the row count of no table.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { preferenceToken, unsubscribeToken } from '../../helpers/links';
import { createApiKey } from '../../../src/services/auth.service';
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';

let t: TestApp;
let callers: { role: string; key: string | null }[];
let countSql: string;
const known: { ids: string[]; tokens: string[] } = { ids: [], tokens: [] };

const URN = 'urn:uuid:11111111-2222-4333-8444-555555555555';
/** NASTY are values any field may receive instead of one of its type. */
const NASTY: unknown[] = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  'Infinity',
  '-Infinity',
  'NaN',
  '1e3',
  '-0',
  URN,
  '0000-01-01T00:00:00Z',
  '0000-01-01',
  '9999-12-31T23:59:59Z',
  '2026-11-01T10:00:00+23:00',
  '',
  ' ',
  null,
  true,
  0,
  -1,
  1e308,
  2 ** 53,
  {},
  [],
];
const nasty = fc.constantFrom(...NASTY);
const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('\u0000', '\ud800', 'ok', 'Ann'),
);

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
}

function typed(schema: Schema, depth: number): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return fc.oneof(...union.map((s) => valueOf(s, depth)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      if (depth > 3 || !schema.properties) return fc.constant({});
      const props = Object.fromEntries(Object.entries(schema.properties).map(([k, s]) => [k, valueOf(s, depth + 1)]));
      return fc.record(props, { requiredKeys: (schema.required ?? []).filter((k) => k in props) });
    }
    case 'array':
      return depth > 3 ? fc.constant([]) : fc.array(valueOf(schema.items ?? {}, depth + 1), { maxLength: 3 });
    case 'integer':
    case 'number':
      return fc.oneof(
        fc.integer({ min: schema.minimum ?? -5, max: Math.min(schema.maximum ?? 2000, 1_000_000) }),
        fc.integer(),
      );
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'string':
      if (schema.format === 'uuid') return fc.oneof(fc.constantFrom(...known.ids), fc.uuid(), fc.constant(URN));
      if (schema.format === 'date-time')
        return fc.oneof(
          fc
            .date({ min: new Date('1890-01-01'), max: new Date('2210-01-01'), noInvalidDate: true })
            .map((d) => d.toISOString()),
          fc.constantFrom('2026-11-01T10:00:00Z', '0000-01-01T00:00:00Z', '2026-02-30T10:00:00Z'),
        );
      if (schema.format === 'date') return fc.constantFrom('2026-11-02', '0000-01-01', '2026-13-01', '1899-12-31');
      if (schema.format === 'email') return fc.oneof(fc.emailAddress(), fc.constant('a\u0000@x.io'));
      return text;
    default:
      return fc.oneof(text, nasty);
  }
}

/** valueOf is a value for a field: mostly of its type (so requests get past validation too), sometimes nasty. */
function valueOf(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 4, arbitrary: typed(schema, depth) }, { weight: 1, arbitrary: nasty });
}

interface Operation {
  method: string;
  path: string;
  params: { in: string; name: string; schema: Schema; required?: boolean }[];
  body: Schema | null;
}

function operations(doc: { paths: Record<string, Record<string, Record<string, unknown>>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const content = (op.requestBody as { content?: Record<string, { schema: Schema }> } | undefined)?.content;
      ops.push({
        method: method.toUpperCase(),
        path,
        params: (op.parameters as Operation['params'] | undefined) ?? [],
        body: content ? (Object.values(content)[0]?.schema ?? null) : null,
      });
    }
  }
  return ops;
}

function requestOf(op: Operation) {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const queryParams = op.params.filter((p) => p.in === 'query');
  const pathValue = (p: Operation['params'][number]) =>
    p.name === 'token'
      ? fc.oneof(fc.constantFrom(...known.tokens), text, nasty)
      : fc.oneof({ weight: 3, arbitrary: typed(p.schema, 0) }, { weight: 1, arbitrary: nasty });
  return fc.record({
    path: fc.tuple(...pathParams.map(pathValue)),
    query: fc.tuple(...queryParams.map((p) => fc.option(valueOf(p.schema), { nil: undefined }))),
    body: op.body ? valueOf(op.body) : fc.option(fc.oneof(text, nasty), { nil: undefined }),
    contentType: fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/csv'),
  });
}

/** pathEncode percent-encodes a path segment, a lone surrogate as the bytes WTF-8 gives it (encodeURIComponent throws). */
function pathEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    if (u >= 0xd800 && u <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(s.slice(i, i + 2));
      i++;
    } else if (u >= 0xd800 && u <= 0xdfff) {
      out += [0xe0 | (u >> 12), 0x80 | ((u >> 6) & 0x3f), 0x80 | (u & 0x3f)].map((b) => `%${b.toString(16)}`).join('');
    } else out += encodeURIComponent(s[i]);
  }
  return out;
}

function encode(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

async function counts(): Promise<string> {
  const { rows } = await sql.raw<{ c: unknown }>(countSql).execute(t.database.db);
  return JSON.stringify(rows[0]);
}

let smtp: TestSmtpServer;

beforeAll(async () => {
  // A mail server, so the routes that email (customers' single-use links, sign-in) answer as in production.
  smtp = await startSmtpServer();
  t = await createTestApp('fuzzproperty', undefined, undefined, {
    enqueueImport: async () => undefined,
    smtpUrl: smtp.url,
  });
  const db = t.database.db;
  const { id: staffId } = await db
    .insertInto('staff')
    .values({ email: 'fuzz@shop.example', name: 'Fuzz' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const staffKey = (await createApiKey(db, { name: 'fuzz staff', role: 'staff', staffId })).key;
  const posKey = (await createApiKey(db, { name: 'fuzz pos', role: 'pos' })).key;
  const adminKey = (await createApiKey(db, { name: 'fuzz admin', role: 'admin' })).key;
  callers = [
    { role: 'pos', key: posKey },
    { role: 'staff', key: staffKey },
    { role: 'admin', key: adminKey },
    { role: 'none', key: null },
  ];
  const sold = await t.app.inject({
    method: 'POST',
    url: '/v1/sales',
    headers: t.auth(posKey),
    payload: saleBody({ externalId: 'FUZZ-1', soldAt: '2026-10-20T10:00:00Z' }),
  });
  expect(sold.statusCode).toBe(201);
  const customerId = sold.json().customer.id as string;
  const sacrificial = await createApiKey(db, { name: 'fuzz spare', role: 'pos' });
  const ids = await sql<{ id: string }>`
    select id from tasks union all select id from segments union all select id from touches
    union all select id from newsletters`.execute(db);
  known.ids = [customerId, staffId, sacrificial.apiKey.id, ...ids.rows.map((r) => r.id)];
  known.tokens = [preferenceToken(customerId, t.ctx.clock.now()), unsubscribeToken(customerId)];
  const tables = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`.execute(db);
  countSql = `select ${tables.rows.map((r) => `(select count(*) from "${r.name}") as "${r.name}"`).join(', ')}`;
});
afterAll(async () => {
  await t.close();
  await smtp.close();
});

it('covers every operation of the OpenAPI document', () => {
  const ops = operations(t.app.swagger() as never);
  expect(ops.length).toBeGreaterThan(30);
  expect(ops.map((o) => `${o.method} ${o.path}`)).toEqual(
    expect.arrayContaining(['POST /v1/sales', 'PATCH /v1/staff/{id}', 'POST /p/{token}/contact', 'POST /v1/imports']),
  );
});

it('never answers 5xx, and a refused request changes no table', async () => {
  const ops = operations(t.app.swagger() as never);
  const started = Date.now();
  let sent = 0;
  let last = await counts();
  for (const op of ops) {
    for (const caller of callers) {
      await fc.assert(
        fc.asyncProperty(requestOf(op), async (r) => {
          let path = op.path;
          op.params
            .filter((p) => p.in === 'path')
            .forEach((p, i) => (path = path.replace(`{${p.name}}`, pathEncode(encode(r.path[i])))));
          const query = new URLSearchParams();
          op.params
            .filter((p) => p.in === 'query')
            .forEach((p, i) => r.query[i] !== undefined && query.set(p.name, encode(r.query[i])));
          const qs = query.toString();
          const form = r.body !== null && typeof r.body === 'object' && r.contentType !== 'text/csv';
          const payload =
            r.body === undefined
              ? undefined
              : r.contentType === 'application/x-www-form-urlencoded' && form
                ? new URLSearchParams(
                    Object.entries(r.body as Record<string, unknown>).map(([k, v]): [string, string] => [k, encode(v)]),
                  ).toString()
                : r.contentType === 'application/json'
                  ? JSON.stringify(r.body)
                  : encode(r.body);
          // Nothing else writes meanwhile: the counts after the last request are the counts before this one.
          const before = last;
          const res = await t.app.inject({
            method: op.method as 'GET',
            url: `${path}${qs ? `?${qs}` : ''}`,
            headers: {
              ...(caller.key ? t.auth(caller.key) : {}),
              ...(payload !== undefined ? { 'content-type': r.contentType } : {}),
            },
            ...(payload !== undefined ? { payload } : {}),
          });
          sent++;
          const what = `${caller.role} ${op.method} ${path}${qs ? `?${qs}` : ''} ${payload ?? ''}`;
          expect([what, res.statusCode < 500]).toEqual([what, true]);
          last = await counts();
          if (res.statusCode >= 400) expect([what, last]).toEqual([what, before]);
        }),
        { numRuns: 4, interruptAfterTimeLimit: 3000 },
      );
    }
  }
  // Bounded: the whole run takes seconds; report what it did.
  expect(sent).toBeGreaterThan(ops.length * callers.length);
  expect(Date.now() - started).toBeLessThan(120_000);
}, 180_000);
