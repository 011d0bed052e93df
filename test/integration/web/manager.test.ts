/**
 * The manager console over app.inject(): the results dashboard with its SVG charts and tables, the plan versions,
 * a re-plan dry run of a segment of 50 running customers, its apply (the plans then match the dry run), and an apply
 * refused after another edit of the plan. A salesperson sees none of it.
 */
import { createTestApp, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';
import { consoleClient, type ConsoleClient } from '../../helpers/console-client';
import { createStaff } from '../../../src/services/staff.service';
import { createSegment, updateSegment } from '../../../src/services/segment.service';
import { recordSale } from '../../../src/services/sale.service';
import { dryRunReplan } from '../../../src/services/replan.service';
import { refreshRollups } from '../../../src/services/dashboard.service';
import type { SaleInput } from '../../../src/services/sale-input';
import type { Segment } from '../../../src/domain/types';

let t: TestApp;
let smtp: TestSmtpServer;
let manager: ConsoleClient;
let segment: Segment;
const NOW = new Date('2026-11-02T10:00:00Z');

function sale(i: number): SaleInput {
  return {
    externalId: `W-${i}`,
    source: 'shop-pos',
    soldAt: new Date(NOW.getTime() - i * 86_400_000).toISOString(),
    total: { amount: '80.00', currency: 'AUD' },
    items: [{ name: 'rose bush', category: 'garden', quantity: 1, unitPrice: '80.00' }],
    customer: { externalId: `WC-${i}`, firstName: `Rose${i}`, email: `rose${i}@example.com`, timezone: 'UTC' },
    salesperson: { email: 'sam@shop.example', name: 'Sam Shaw' },
  } as SaleInput;
}

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp('web_manager', NOW, undefined, { smtpUrl: smtp.url });
  await createStaff(t.ctx, { email: 'max@shop.example', name: 'Max Manager', role: 'manager' }, 'test');
  segment = await createSegment(t.ctx, { name: 'garden', priority: 10, match: { categories: ['garden'] } }, 'test');
  await recordSale(t.ctx, sale(0));
  await Promise.all(Array.from({ length: 49 }, (_, i) => recordSale(t.ctx, sale(i + 1))));
  await updateSegment(
    t.ctx,
    segment.id,
    { name: 'garden', plan: segment.plan.map((s) => (s.step === 3 ? { ...s, offset: { weeks: 6 } } : s)) },
    'test',
  );
  await refreshRollups(t.ctx);
  manager = consoleClient(t.app);
  await manager.signIn('max@shop.example', smtp);
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

test('the results dashboard draws each chart as SVG with a title, a text alternative and its table', async () => {
  const page = await manager.get('/console/manager/results');
  expect(page.statusCode).toBe(200);
  for (const id of ['contacts', 'calls', 'workload']) {
    expect(page.body).toContain(`aria-labelledby="${id}-t ${id}-d"`);
    expect(page.body).toMatch(new RegExp(`<title id="${id}-t">[^<]+</title><desc id="${id}-d">[^<]+</desc>`));
  }
  expect(page.body).toContain('<caption id="contacts-caption">Contacts due each month</caption>');
  expect(page.body).toContain('Figures as of');
  expect(page.body).toContain('<option value="' + segment.id + '">garden</option>');
  const bad = await manager.get('/console/manager/results?from=2026-13');
  expect(bad.statusCode).toBe(400);
  expect(bad.body).toContain('from: must be a month');
});

test('a dry run on a segment of 50 running customers lists the moves; apply makes them; a later apply after an edit is refused', async () => {
  const versions = await manager.get(`/console/manager/segments/${segment.id}/replan`);
  expect(versions.statusCode).toBe(200);
  expect(versions.body).toContain('step 3 re-timed: 1 month -&gt; 6 weeks after the sale');

  const expected = await dryRunReplan(t.ctx, { segmentId: segment.id });
  const dry = await manager.post(`/console/manager/segments/${segment.id}/replan`, { fromVersion: '' });
  expect(dry.statusCode).toBe(200);
  expect(dry.body).toContain(`Of 50 running customers, ${expected.customers} would see a change`);
  expect(expected.counts.retimed).toBeGreaterThan(0);
  expect(dry.body).toContain(`<div><dt>Moved to another date</dt><dd>${expected.counts.retimed}</dd></div>`);
  for (const e of expected.entries) expect(dry.body).toContain(e.name);

  const applied = await manager.post(`/console/manager/segments/${segment.id}/replan/apply`, {
    fromVersion: '',
    asOf: (/name="asOf" value="([^"]+)"/.exec(dry.body) ?? [])[1]!,
    planFingerprint: (/name="planFingerprint" value="([^"]+)"/.exec(dry.body) ?? [])[1]!,
    fingerprint: (/name="fingerprint" value="([^"]+)"/.exec(dry.body) ?? [])[1]!,
  });
  expect(applied.statusCode).toBe(303);
  expect(applied.headers.location).toBe(`/console/manager/segments/${segment.id}/replan?applied=${expected.customers}`);
  // The planned contacts now match the dry run exactly.
  for (const e of expected.entries)
    for (const c of e.changes) {
      const row = await t.database.db
        .selectFrom('touches')
        .select(['dueAt', 'status'])
        .where('id', '=', c.touchId!)
        .executeTakeFirstOrThrow();
      expect(row.dueAt.toISOString()).toBe(c.toDueAt!.toISOString());
    }
  expect((await dryRunReplan(t.ctx, { segmentId: segment.id })).customers).toBe(0);

  // A dry run, then someone edits the plan again: apply is refused and nothing changes.
  await updateSegment(
    t.ctx,
    segment.id,
    { name: 'garden', plan: segment.plan.map((s) => (s.step === 4 ? { ...s, offset: { months: 4 } } : s)) },
    'test',
  );
  const dry2 = await manager.post(`/console/manager/segments/${segment.id}/replan`, { fromVersion: '' });
  await updateSegment(
    t.ctx,
    segment.id,
    { name: 'garden', plan: segment.plan.map((s) => (s.step === 4 ? { ...s, offset: { months: 5 } } : s)) },
    'test',
  );
  const refused = await manager.post(`/console/manager/segments/${segment.id}/replan/apply`, {
    fromVersion: '',
    asOf: (/name="asOf" value="([^"]+)"/.exec(dry2.body) ?? [])[1]!,
    planFingerprint: (/name="planFingerprint" value="([^"]+)"/.exec(dry2.body) ?? [])[1]!,
    fingerprint: (/name="fingerprint" value="([^"]+)"/.exec(dry2.body) ?? [])[1]!,
  });
  expect(refused.statusCode).toBe(409);
  expect(refused.body).toContain('the plan changed since the dry run');
});

test('a salesperson gets the not-found page for manager pages', async () => {
  await createStaff(t.ctx, { email: 'sal@shop.example', name: 'Sal Seller', role: 'salesperson' }, 'test');
  const sal = consoleClient(t.app);
  await sal.signIn('sal@shop.example', smtp);
  expect((await sal.get('/console/manager/results')).statusCode).toBe(404);
  expect((await sal.get(`/console/manager/segments/${segment.id}/replan`)).statusCode).toBe(404);
});
