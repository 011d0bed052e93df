/**
 * Plan versions and re-planning 10,000 running customers: the dry run writes nothing; apply makes exactly the dry
 * run's changes, row for row, each on the timeline and in the audit trail; a plan or customer changed since the dry
 * run makes apply refuse.
 */
import { createTestApp, type TestApp } from '../../helpers/app';
import { recordSale } from '../../../src/services/sale.service';
import type { SaleInput } from '../../../src/services/sale-input';
import type { PlanStep } from '../../../src/domain/types';
import { installZoneOffsetCache } from '../../../src/main/zone-offset-cache';

let t: TestApp;
let segmentId: string;
let plan: PlanStep[];
const N = 10_000;
const NOW = new Date('2026-11-02T10:00:00Z');

const zones = ['UTC', 'Australia/Sydney', 'America/New_York', 'Europe/Berlin'];

function sale(i: number): SaleInput {
  // Sold over the last 200 days, so every customer has some contacts made, missed or still to come.
  const soldAt = new Date(NOW.getTime() - (i % 200) * 86_400_000 - (i % 7) * 3_600_000);
  return {
    externalId: `R-${i}`,
    source: 'shop-pos',
    soldAt: soldAt.toISOString(),
    total: { amount: '250.00', currency: 'AUD' },
    items: [{ sku: 'ROSE', name: 'rose bush', category: 'garden', quantity: 1, unitPrice: '250.00' }],
    customer: {
      externalId: `RC-${i}`,
      firstName: `Cust${i}`,
      ...(i % 5 === 0
        ? { address: { lines: [`${i} Main St`], city: 'Sydney', country: 'AU' } }
        : { email: `c${i}@example.com` }),
      timezone: zones[i % zones.length],
    },
    salesperson: { email: i % 2 ? 'sam@shop.example' : 'kim@shop.example', name: i % 2 ? 'Sam' : 'Kim' },
  } as SaleInput;
}

async function replan(body: Record<string, unknown>) {
  return t.app.inject({
    method: 'POST',
    url: `/v1/segments/${segmentId}/replan`,
    headers: t.auth(t.adminKey),
    payload: { limit: 100_000, ...body },
  });
}

async function touchesSnapshot() {
  const rows = await t.database.db
    .selectFrom('touches')
    .select(['id', 'planRunId', 'step', 'channel', 'dueAt', 'status', 'assigneeId'])
    .where('planRunId', 'is not', null)
    .orderBy('id')
    .execute();
  return new Map(rows.map((r) => [r.id, r]));
}

async function putPlan(steps: PlanStep[]) {
  const res = await t.app.inject({
    method: 'PUT',
    url: `/v1/segments/${segmentId}`,
    headers: t.auth(t.adminKey),
    payload: { name: 'garden', priority: 10, match: { categories: ['garden'] }, plan: steps },
  });
  expect(res.statusCode).toBe(200);
  return res.json();
}

beforeAll(async () => {
  // As every entry point does: the dry run's cost is luxon's.
  installZoneOffsetCache();
  t = await createTestApp('replan', NOW);
  const created = await t.app.inject({
    method: 'POST',
    url: '/v1/segments',
    headers: t.auth(t.adminKey),
    payload: { name: 'garden', priority: 10, match: { categories: ['garden'] } },
  });
  expect(created.statusCode).toBe(201);
  segmentId = created.json().id;
  plan = created.json().plan;
  // Both salespeople exist before the rest arrive together, so those are recorded in batches (group commit).
  await recordSale(t.ctx, sale(0));
  await recordSale(t.ctx, sale(1));
  for (let i = 2; i < N; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, N - i) }, (_, k) => recordSale(t.ctx, sale(i + k))));
  }
  // Some contacts were made: the first email or letter of every tenth customer went out.
  await t.database.db
    .updateTable('touches')
    .set({ status: 'sent', completedAt: NOW })
    .where('step', '=', 3)
    .where('status', '=', 'scheduled')
    .where('customerId', 'in', (eb) => eb.selectFrom('customers').select('id').where('externalId', 'like', 'RC-%0'))
    .execute();
}, 300_000);

afterAll(() => t.close());

test('saving a changed plan makes a new version; running plans keep theirs', async () => {
  const v1 = await t.app.inject({
    method: 'GET',
    url: `/v1/segments/${segmentId}/versions`,
    headers: t.auth(t.adminKey),
  });
  expect(v1.json().versions).toHaveLength(1);
  expect(v1.json().versions[0]).toMatchObject({ version: 1, running: N });
  // Saving the same plan again is no new version.
  expect((await putPlan(plan)).planVersion).toBe(1);

  const next = plan
    .filter((s) => s.step !== 6)
    .map((s) => {
      if (s.step === 3) return { ...s, offset: { weeks: 6 } };
      if (s.step === 4)
        return {
          step: 4,
          offset: s.offset,
          channel: 'call' as const,
          assignee: 'salesperson' as const,
          purpose: 'check in',
          talkingPoints: ['How is the garden?'],
        };
      return s;
    });
  next.push({ ...plan[4], step: 8, offset: { months: 10 } });
  const saved = await putPlan(next);
  expect(saved.planVersion).toBe(2);
  const v2 = (
    await t.app.inject({ method: 'GET', url: `/v1/segments/${segmentId}/versions`, headers: t.auth(t.adminKey) })
  ).json();
  expect(v2.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
  expect(v2.versions[0].createdBy).toMatch(/^key:/);
  expect(v2.versions[0].changes).toEqual([
    'step 3 re-timed: 1 month -> 6 weeks after the sale',
    'step 4 channel: mail -> call',
    'step 4 signed by: salesperson -> -',
    'step 4 caller: - -> salesperson',
    'step 4 purpose changed',
    'step 4 wording changed',
    'step 4 talking points changed',
    'step 6 removed',
    'step 8 added: letter or email after 10 months',
  ]);
  expect(v2.versions[0].running).toBe(0);
  expect(v2.versions[1].running).toBe(N);
  plan = next;
});

test('re-planning 10,000 running customers: the dry run writes nothing, apply equals it row for row', async () => {
  const before = await touchesSnapshot();
  const started = Date.now();
  const dry = await replan({ dryRun: true, fromVersion: 1 });
  const took = Date.now() - started;
  expect(dry.statusCode).toBe(200);
  const d = dry.json();
  expect(await touchesSnapshot()).toEqual(before);
  expect(d.considered).toBe(N);
  expect(d.truncated).toBe(false);
  expect(d.entries).toHaveLength(d.customers);
  for (const kind of ['added', 'removed', 'retimed', 'channel']) expect(d.counts[kind]).toBeGreaterThan(100);
  const total = d.entries.reduce((n: number, e: { changes: unknown[] }) => n + e.changes.length, 0);
  expect(total).toBe(d.counts.added + d.counts.removed + d.counts.retimed + d.counts.channel);
  // Contacts already made stay: no change touches a touch that is not scheduled.
  for (const e of d.entries)
    for (const c of e.changes) if (c.touchId) expect(before.get(c.touchId)!.status).toBe('scheduled');
  console.log(`dry run of ${N} running plans: ${took} ms; ${JSON.stringify(d.counts)}`);

  t.clock.set(new Date(NOW.getTime() + 60_000));
  const applied = await replan({
    dryRun: false,
    fromVersion: 1,
    asOf: d.asOf,
    planFingerprint: d.planFingerprint,
    fingerprint: d.fingerprint,
  });
  expect(applied.statusCode).toBe(200);
  const a = applied.json();
  expect(a.moved).toBe(N);
  const strip = (entries: { changes: { kind: string; touchId: string | null }[] }[]) =>
    entries.map((e) => ({
      ...e,
      changes: e.changes.map((c) => ({ ...c, touchId: c.kind === 'added' ? null : c.touchId })),
    }));
  expect(strip(a.entries)).toEqual(strip(d.entries));
  expect(a.counts).toEqual(d.counts);

  // The rows now hold exactly the dry run's changes, and nothing else moved.
  const after = await touchesSnapshot();
  const touched = new Set<string>();
  const addedIds = new Set<string>();
  for (const e of a.entries) {
    for (const c of e.changes) {
      const row = after.get(c.touchId)!;
      touched.add(c.touchId);
      if (c.kind === 'removed') expect(row.status).toBe('cancelled');
      else {
        expect(row.status).toBe('scheduled');
        expect(row.dueAt.toISOString()).toBe(c.toDueAt);
        expect(row.channel).toBe(c.toChannel);
        expect(row.step).toBe(c.step);
        expect(row.planRunId).toBe(e.runId);
      }
      if (c.kind === 'added') addedIds.add(c.touchId);
    }
  }
  expect(after.size).toBe(before.size + addedIds.size);
  for (const [id, row] of before) if (!touched.has(id)) expect(after.get(id)).toEqual(row);

  // Every run is on version 2 with its steps; each change is on the timeline and each customer in the audit trail.
  const runs = await t.database.db
    .selectFrom('planRuns')
    .select(['planVersion'])
    .where('segmentId', '=', segmentId)
    .where('status', '=', 'active')
    .execute();
  expect(runs.every((r) => r.planVersion === 2)).toBe(true);
  const events = await t.database.db
    .selectFrom('touchEvents')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('reason', 'like', 'replanned%')
    .executeTakeFirstOrThrow();
  expect(Number(events.n)).toBe(total);
  const audits = await t.database.db
    .selectFrom('auditLog')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('action', '=', 'customer.replanned')
    .executeTakeFirstOrThrow();
  expect(Number(audits.n)).toBe(N);

  // Nothing is left to move.
  const again = (await replan({ dryRun: true })).json();
  expect(again.customers).toBe(0);
  expect(again.considered).toBe(N);
}, 300_000);

test('apply refuses when the plan or a listed customer changed since the dry run, and writes nothing', async () => {
  const retimed = plan.map((s) => (s.step === 5 ? { ...s, offset: { months: 7 } } : s));
  await putPlan(retimed);
  const d = (await replan({ dryRun: true, limit: 5 })).json();
  expect(d.customers).toBeGreaterThan(5);
  expect(d.truncated).toBe(true);
  expect(d.entries).toHaveLength(5);
  const apply = { dryRun: false, asOf: d.asOf, planFingerprint: d.planFingerprint, fingerprint: d.fingerprint };

  // A customer's contact moved by hand since the dry run.
  const before = await touchesSnapshot();
  const moved = d.entries[0].changes.find((c: { touchId: string | null }) => c.touchId)!;
  await t.database.db
    .updateTable('touches')
    .set({ dueAt: new Date('2027-03-03T10:00:00Z') })
    .where('id', '=', moved.touchId)
    .execute();
  const refused = await replan(apply);
  expect(refused.statusCode).toBe(409);
  expect(refused.json().error.details.field).toBe('fingerprint');
  const unchanged = await touchesSnapshot();
  unchanged.get(moved.touchId)!.dueAt = before.get(moved.touchId)!.dueAt;
  expect(unchanged).toEqual(before);

  // The plan edited again since the dry run.
  const d2 = (await replan({ dryRun: true, limit: 0 })).json();
  await putPlan(retimed.map((s) => (s.step === 5 ? { ...s, offset: { months: 8 } } : s)));
  const refused2 = await replan({
    dryRun: false,
    asOf: d2.asOf,
    planFingerprint: d2.planFingerprint,
    fingerprint: d2.fingerprint,
  });
  expect(refused2.statusCode).toBe(409);
  expect(refused2.json().error.details.field).toBe('planFingerprint');

  // A dry run from too long ago, and an apply without the dry run's answer.
  const d3 = (await replan({ dryRun: true, limit: 0 })).json();
  t.clock.advance(2 * 3600_000);
  const stale = await replan({
    dryRun: false,
    asOf: d3.asOf,
    planFingerprint: d3.planFingerprint,
    fingerprint: d3.fingerprint,
  });
  expect(stale.statusCode).toBe(409);
  const bare = await replan({ dryRun: false });
  expect(bare.statusCode).toBe(400);
  expect(bare.json().error.details.field).toBe('asOf');
  const badVersion = await replan({ dryRun: true, fromVersion: 0 });
  expect(badVersion.statusCode).toBe(400);
}, 300_000);
