/**
 * Property (fast-check): every form the console shows (found by walking its pages as a manager and as a
 * salesperson, so pages added later are covered without touching this file) is posted with its fields laced with
 * NUL, lone surrogates, "Infinity", urn:uuid ids, year 0000 and over-long text. No answer is a 5xx, and a refused
 * post (4xx) changes the row count of no table. Forms that end the session or change who is signed in are left out.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { saleBody, type TestApp } from '../../helpers/app';
import { closeTestStack, startTestStack, type TestStack } from '../../helpers/stack';
import type { TestSmtpServer } from '../../helpers/smtp';
import { waitFor } from '../../helpers/wait';
import { consoleClient, type ConsoleClient } from '../../helpers/console-client';
import { createStaff } from '../../../src/services/staff.service';

let s: TestStack;
let t: TestApp;
let smtp: TestSmtpServer;
let countSql: string;

const NASTY = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00y',
  'Infinity',
  '-1',
  '1e308',
  'urn:uuid:11111111-2222-4333-8444-555555555555',
  '0000-01-01',
  '0000-01-01T00:00',
  '2026-02-30',
  '',
  ' ',
  'x'.repeat(5000),
  '<script>alert(1)</script>',
  '{{ 7 | times: 7 }}',
];

/** A form found on a page: where it posts and its fields with the values the page gave them. */
interface Form {
  action: string;
  fields: [string, string][];
}

/** SKIPPED are forms whose success ends the session the walk needs; their refusals are covered by other tests. */
const SKIPPED = /\/console\/(sign-out|sign-out-everywhere|sign-in)(\/|$)/;

function attr(tag: string, name: string): string | null {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m
    ? m[1]!
        .replace(/&amp;/g, '&')
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
    : null;
}

/** formsIn returns the post forms of a page (our own HTML: one attribute style, no nested forms). */
function formsIn(html: string, page: string): Form[] {
  const forms: Form[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const tag = m[1]!;
    if ((attr(tag, 'method') ?? 'get').toLowerCase() !== 'post') continue;
    const action = attr(tag, 'action') ?? page;
    const fields: [string, string][] = [];
    for (const f of m[2]!.matchAll(/<(input|textarea|select)\b([^>]*)>/g)) {
      const name = attr(f[2]!, 'name');
      if (!name) continue;
      const type = attr(f[2]!, 'type');
      if ((type === 'checkbox' || type === 'radio') && !/\schecked\b/.test(f[2]!)) continue;
      fields.push([name, attr(f[2]!, 'value') ?? '']);
    }
    forms.push({ action, fields });
  }
  return forms;
}

/** walk follows the console's links from Today and a customer search (at most `limit` pages) and returns every post form it saw. */
async function walk(c: ConsoleClient, limit: number): Promise<Map<string, Form>> {
  const seen = new Set<string>();
  const queue = ['/console/today', '/console/customers?q=Ann'];
  const forms = new Map<string, Form>();
  while (queue.length > 0 && seen.size < limit) {
    const url = queue.shift()!;
    if (seen.has(url)) continue;
    seen.add(url);
    const res = await c.get(url);
    expect([url, res.statusCode < 500]).toEqual([url, true]);
    if (!String(res.headers['content-type'] ?? '').startsWith('text/html')) continue;
    for (const form of formsIn(res.body, url)) {
      const key = `${form.action.replace(/[0-9a-f-]{36}/g, ':id')} ${form.fields.map(([k]) => k).join(',')}`;
      if (!SKIPPED.test(form.action) && !forms.has(key)) forms.set(key, form);
    }
    for (const l of res.body.matchAll(/<a\b[^>]*\shref="(\/console\/[^"#]*)"/g)) {
      const href = l[1]!.replace(/&amp;/g, '&');
      if (!/\/(sign-out|assets)\b|\.(pdf|csv)(\?|$)/.test(href) && !seen.has(href)) queue.push(href);
    }
  }
  return forms;
}

async function counts(): Promise<string> {
  const { rows } = await sql.raw<{ c: unknown }>(countSql).execute(t.database.db);
  return JSON.stringify(rows[0]);
}

beforeAll(async () => {
  s = await startTestStack('web_fuzz', new Date('2026-11-02T10:00:00Z'));
  ({ t, smtp } = s);
  const mia = await createStaff(t.ctx, { email: 'mia@shop.example', name: 'Mia Manager', role: 'manager' }, 'test');
  await createStaff(
    t.ctx,
    { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson', managerId: mia.id },
    'test',
  );
  // A sale a week and a half ago: Sam owes its week-after call (overdue), so Today, a task and a customer have forms.
  const sold = await t.app.inject({
    method: 'POST',
    url: '/v1/sales',
    headers: t.auth(t.posKey),
    payload: saleBody({ externalId: 'FUZZ-W1', soldAt: '2026-10-22T09:00:00Z' }),
  });
  expect(sold.statusCode).toBe(201);
  t.clock.set(new Date('2026-11-02T10:05:00Z'));
  // The workers send the thank-you and open the call task; then nothing is due for weeks, so only forms write.
  await waitFor(async () => {
    await s.worker.runMaintenance('dispatch');
    const open = await t.database.db
      .selectFrom('touches')
      .select(['step', 'status', 'dueAt'])
      .where('status', 'in', ['queued', 'scheduled'])
      .where('dueAt', '<=', t.clock.now())
      .execute();
    const task = await t.database.db.selectFrom('tasks').select('id').executeTakeFirst();
    if (open.length > 0 || !task) throw new Error(`still due: ${JSON.stringify(open)}, task: ${Boolean(task)}`);
    return true;
  }, 'the overdue call task');
  const tables = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`.execute(t.database.db);
  // Sessions and sign-in links are touched by every request (a session's last use); they are not what a form writes.
  countSql = `select ${tables.rows
    .filter((r) => !['staff_sessions', 'sign_in_links'].includes(r.name))
    .map((r) => `(select count(*) from "${r.name}") as "${r.name}"`)
    .join(', ')}`;
});
afterAll(() => closeTestStack(s ?? {}));

// The salesperson first: the manager's forms include deactivating or editing that salesperson.
it.each([
  ['a salesperson', 'sam@shop.example'],
  ['a manager', 'mia@shop.example'],
])(
  'no console form answers 5xx to %s, and a refused post changes no table',
  async (_who, email) => {
    const c = consoleClient(t.app);
    await c.signIn(email, smtp);
    const forms = await walk(c, 80);
    expect(forms.size).toBeGreaterThan(1);
    const started = Date.now();
    let posted = 0;
    for (const form of forms.values()) {
      const names = form.fields.map(([k]) => k).filter((k) => k !== '_csrf');
      const mutation = fc.record({
        // Each field keeps the page's value or gets a nasty one; sometimes a field is left out or one is added.
        values: fc.tuple(...names.map(() => fc.option(fc.constantFrom(...NASTY), { nil: undefined, freq: 2 }))),
        drop: fc.option(fc.nat({ max: Math.max(0, names.length - 1) }), { nil: undefined, freq: 3 }),
        extra: fc.option(fc.constantFrom(...NASTY), { nil: undefined, freq: 4 }),
      });
      await fc.assert(
        fc.asyncProperty(mutation, async (m) => {
          // A fresh page first: its CSRF token, and a session the last post may have changed (a role, a task moved).
          await c.get('/console/today');
          const body: Record<string, string> = {};
          names.forEach((name, i) => {
            if (i !== m.drop) body[name] = m.values[i] ?? form.fields.find(([k]) => k === name)![1];
          });
          if (m.extra !== undefined) body.unexpected = m.extra;
          const before = await counts();
          const res = await c.post(form.action, body);
          posted++;
          const what = `${email} POST ${form.action} ${JSON.stringify(body).slice(0, 300)}`;
          expect([what, res.statusCode]).toEqual([what, expect.any(Number)]);
          expect([what, res.statusCode < 500]).toEqual([what, true]);
          if (res.statusCode >= 400) expect([what, await counts()]).toEqual([what, before]);
        }),
        { numRuns: 12, interruptAfterTimeLimit: 4000 },
      );
    }
    expect(posted).toBeGreaterThanOrEqual(forms.size);
    expect(Date.now() - started).toBeLessThan(150_000);
  },
  200_000,
);
