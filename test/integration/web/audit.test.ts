/**
 * The manager's audit trail over app.inject(): newest first with times and their zone, actors named, filtered by who,
 * kind of change, kind of thing (and one thing's history) and days in the viewer's zone, paged 50 at a time with no
 * entry lost or repeated; bad dates are a 400 naming the field; a salesperson sees none of it.
 */
import { createTestApp, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';
import { signedIn, type ConsoleClient } from '../../helpers/console-client';
import { createStaff } from '../../../src/services/staff.service';
import { audit } from '../../../src/db/repositories/access.repository';

let t: TestApp;
let smtp: TestSmtpServer;
let manager: ConsoleClient;
let sam: ConsoleClient;
let maxId: string;
const NOW = new Date('2026-11-02T10:00:00Z');
const HOUR = 3600_000;

function rowsOf(body: string): string[] {
  return [...body.matchAll(/<th scope="row"><code>([^<]+)<\/code><\/th>/g)].map((m) => m[1]!);
}

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp('web_audit', NOW, undefined, { smtpUrl: smtp.url });
  // Max reads times in Sydney (UTC+11 in November).
  maxId = (
    await createStaff(
      t.ctx,
      { email: 'max@shop.example', name: 'Max Manager', role: 'manager', timezone: 'Australia/Sydney' },
      'test',
    )
  ).id;
  await createStaff(t.ctx, { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson' }, 'test');
  await t.database.db.deleteFrom('auditLog').execute();
  // 120 entries an hour apart, ending an hour before NOW: a segment edit by Max every third, the rest by the workers.
  const entries = Array.from({ length: 120 }, (_, i) => ({
    actor: i % 3 === 0 ? `staff:${maxId}` : 'worker',
    action: i % 3 === 0 ? 'segment.updated' : 'task.escalated',
    entity: i % 3 === 0 ? 'segment' : 'task',
    entityId: i % 3 === 0 ? `seg-${i % 2}` : `task-${i}`,
    detail: { n: i },
    at: new Date(NOW.getTime() - (120 - i) * HOUR),
  }));
  await audit(t.database.db, ...entries);
  [manager, sam] = await signedIn(t.app, smtp, 'max@shop.example', 'sam@shop.example');
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

test('newest first, actors named, times in the viewer zone with the zone named, 50 a page with none lost', async () => {
  const first = await manager.get('/console/manager/audit');
  expect(first.statusCode).toBe(200);
  // Signing in is audited too: the newest entries are the two sign-ins, then n = 119, 118...
  expect(first.body).toContain('<li>n: 119</li>');
  expect(first.body).toContain('<td>Max Manager</td>');
  expect(first.body).toContain('<td>the workers</td>');
  // n = 119 was at 09:00 UTC on 2 Nov: 20:00 in Sydney.
  expect(first.body).toMatch(/<td>Mon 2 Nov 2026, 20:00 \([^)]*Sydney[^)]*\)<\/td>/);
  const seen: string[] = [];
  let page = first;
  for (let i = 0; i < 5 && page; i++) {
    seen.push(...[...page.body.matchAll(/<li>n: (\d+)<\/li>/g)].map((m) => m[1]!));
    const next = /<a href="([^"]+)">Older changes<\/a>/.exec(page.body);
    if (!next) break;
    page = await manager.get(next[1]!.replace(/&amp;/g, '&'));
    expect(page.statusCode).toBe(200);
  }
  expect(seen).toEqual(Array.from({ length: 120 }, (_, i) => String(119 - i)));
  expect(page.body).toContain('>Newest</a>');
});

test('filters: who, kind of change (by its start), kind of thing, one thing, and days in the viewer zone', async () => {
  const byMax = await manager.get(`/console/manager/audit?actor=staff:${maxId}&entity=segment`);
  const actions = rowsOf(byMax.body);
  expect(actions).toHaveLength(40);
  expect(new Set(actions)).toEqual(new Set(['segment.updated']));
  expect(byMax.body).toContain(`<option value="staff:${maxId}" selected>Max Manager</option>`);

  const tasks = await manager.get('/console/manager/audit?action=task');
  expect(rowsOf(tasks.body)).toHaveLength(50);
  expect(new Set(rowsOf(tasks.body))).toEqual(new Set(['task.escalated']));

  const one = await manager.get('/console/manager/audit?entity=segment&entityId=seg-1');
  expect(rowsOf(one.body)).toHaveLength(20);
  expect(one.body).toContain(`href="/console/manager/segments/seg-1/replan"`);

  // 1 Nov in Sydney is 31 Oct 13:00 UTC up to 1 Nov 13:00 UTC.
  const day = await manager.get('/console/manager/audit?from=2026-11-01&to=2026-11-01&actor=worker');
  const ns = [...day.body.matchAll(/<li>n: (\d+)<\/li>/g)].map((m) => Number(m[1]));
  // n is at NOW - (120 - n) h = 2 Nov 10:00 UTC - (120 - n) h; 31 Oct 13:00 UTC is n = 75, 1 Nov 12:00 UTC is n = 98.
  const expected = Array.from({ length: 24 }, (_, i) => 98 - i).filter((n) => n % 3 !== 0);
  expect(ns).toEqual(expected);
});

test('a bad date is a 400 naming the field; an end before the start too', async () => {
  const bad = await manager.get('/console/manager/audit?from=2026-13-40');
  expect(bad.statusCode).toBe(400);
  expect(bad.body).toContain('<p class="field-error" id="from-error">from: must be a date such as 2026-11-30</p>');
  const backwards = await manager.get('/console/manager/audit?from=2026-11-02&to=2026-11-01');
  expect(backwards.statusCode).toBe(400);
  expect(backwards.body).toContain('id="to-error"');
  const cursor = await manager.get('/console/manager/audit?after=garbage');
  expect(cursor.statusCode).toBe(400);
});

test('a salesperson sees none of it', async () => {
  expect((await sam.get('/console/manager/audit')).statusCode).toBe(404);
});
