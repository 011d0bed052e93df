/**
 * The plan editor in real Chromium against the real server, Postgres, Redis, workers and SMTP: a manager edits a
 * step's template, saves it, previews it for a real customer, sends a test that arrives; changes a step's offset,
 * runs the dry run on a segment of 50 running customers, sees the moves, applies them (the planned contacts then
 * match the dry run exactly); and an apply after another edit is refused. axe-core checks every page on the way.
 */
import type { Page } from 'playwright-core';
import { closeTestStack, startTestStack, type TestStack } from '../helpers/stack';
import { expectAccessible, openBrowser, type TestBrowser } from '../helpers/browser';
import { refreshRollups } from '../../src/services/dashboard.service';
import { waitFor } from '../helpers/wait';
import { createStaff } from '../../src/services/staff.service';
import { createSegment, listSegments, updateSegment } from '../../src/services/segment.service';
import { recordSale } from '../../src/services/sale.service';
import { dryRunReplan, type DryRun } from '../../src/services/replan.service';
import type { SaleInput } from '../../src/services/sale-input';
import type { Segment } from '../../src/domain/types';

const NOW = new Date('2026-11-02T10:00:00Z');
const DAY = 86_400_000;
let s: TestStack;
let web: TestBrowser;
let page: Page;
let segment: Segment;
const customers: Record<string, string> = {};

function sale(i: number): SaleInput {
  return {
    externalId: `G-${i}`,
    source: 'shop-pos',
    soldAt: new Date(NOW.getTime() - (i + 1) * DAY).toISOString(),
    total: { amount: '80.00', currency: 'AUD' },
    items: [{ name: 'rose bush', category: 'garden', quantity: 1, unitPrice: '80.00' }],
    customer: {
      externalId: `GC-${i}`,
      firstName: `Rose${i}`,
      lastName: 'Lee',
      email: `rose${i}@example.com`,
      timezone: 'UTC',
    },
    salesperson: { email: 'sam@shop.example', name: 'Sam Shaw' },
  } as SaleInput;
}

/** shoot saves one screen of the page, from the element `from`, under docs/ when SCREENSHOTS=1. */
async function shoot(p: Page, name: string, from: string) {
  if (process.env.SCREENSHOTS !== '1') return;
  // A viewport screenshot: a full-page one leaves the sandboxed email frame blank.
  await p.locator(from).evaluate((el: { scrollIntoView(): void }) => el.scrollIntoView());
  await p.screenshot({ path: `docs/${name}.png` });
}

const editor = () => web.url(`/console/manager/segments/${segment.id}`);

async function touchesOf(step: number) {
  return s.t.database.db
    .selectFrom('touches')
    .innerJoin('customers', 'customers.id', 'touches.customerId')
    .select(['touches.id', 'touches.dueAt', 'touches.status', 'touches.channel'])
    .where('customers.segmentId', '=', segment.id)
    .where('touches.step', '=', step)
    .orderBy('touches.id')
    .execute();
}

/** dryRunOnPage runs the dry run from the re-plan page and returns what the service says it is. */
async function dryRunOnPage(): Promise<DryRun> {
  await page.goto(web.url(`/console/manager/segments/${segment.id}/replan`));
  await page.getByRole('button', { name: 'Show what would change' }).click();
  await page.getByRole('heading', { name: /What moving to version \d+ would change/ }).waitFor();
  return dryRunReplan(s.t.ctx, { segmentId: segment.id });
}

beforeAll(async () => {
  s = await startTestStack('browser_plans', NOW);
  const mia = await createStaff(
    s.t.ctx,
    { email: 'mia@shop.example', name: 'Mia Manager', role: 'manager', timezone: 'UTC' },
    'test',
  );
  await createStaff(
    s.t.ctx,
    { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson', managerId: mia.id, timezone: 'UTC' },
    'test',
  );
  segment = await createSegment(s.t.ctx, { name: 'garden', priority: 10, match: { categories: ['garden'] } }, 'test');
  const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => recordSale(s.t.ctx, sale(i))));
  outcomes.forEach((o, i) => (customers[`Rose${i}`] = o.response.customer.id));
  web = await openBrowser(s.t);
  page = await web.newPage();
  await web.signIn(page, 'mia@shop.example', s.smtp);
});

afterAll(async () => {
  await web?.close();
  await closeTestStack(s ?? {});
});

it('edits a step, previews it for a real customer and sends a test that arrives', async () => {
  await page.goto(web.url('/console/manager/segments'));
  await expectAccessible(page);
  await page.getByRole('link', { name: 'garden', exact: true }).click();
  await page.getByRole('heading', { name: 'Plan: garden', level: 1 }).waitFor();
  await expectAccessible(page);
  // By default the previews are for the segment's most recent customer.
  await expect(page.locator('#pick-customer option:checked').textContent()).resolves.toBe(
    'Rose0 Lee (rose0@example.com)',
  );

  // Another customer, found by name.
  await page.getByLabel('Find a customer').fill('Rose17');
  await page.getByRole('button', { name: 'Show the previews' }).click();
  await page.getByLabel('Preview for').selectOption(customers.Rose17!);
  await page.getByRole('button', { name: 'Show the previews' }).click();
  await page.waitForURL(new RegExp(`customer=${customers.Rose17}`));

  // Edit, preview the unsaved change for Rose17, test it, then save it.
  await page.locator('#s0-subject').fill('Thank you so much, {{ customer.firstName }}');
  await page.getByRole('button', { name: 'Preview my changes' }).first().click();
  await page.getByText('The previews show the plan as this form has it').waitFor();
  await expectAccessible(page);
  let step1 = (await page.locator('#step-1').textContent()) ?? '';
  expect(step1).toContain('Subject: Thank you so much, Rose17');
  expect(step1).toContain('Dear Rose17,');
  expect(step1).toContain('This customer has no postal address: no letter can be shown.');

  const before = s.smtp.messages.length;
  await page.getByRole('button', { name: 'Send a test to me (step 1)' }).click();
  await page.getByText('Test sent to mia@shop.example.').waitFor();
  const test = await waitFor(
    () => s.smtp.messages.slice(before).find((m) => m.envelope.to.includes('mia@shop.example')),
    'the test email',
  );
  expect(test.subject).toBe('[Test] Thank you so much, Rose17');
  expect(test.text).toContain('Dear Rose17,');
  expect((await listSegments(s.t.ctx)).find((x) => x.id === segment.id)!.planVersion).toBe(1);

  await page.getByRole('button', { name: 'Save the plan' }).first().click();
  await page.getByText('Saved as plan version 2.').waitFor();
  const email = page.frameLocator('iframe[title="The email of step 1"]');
  await expect(email.locator('title').textContent()).resolves.toBe('Thank you so much, Rose17');
  await expect(email.locator('body').textContent()).resolves.toContain('Dear Rose17,');
  step1 = (await page.locator('#step-1').textContent()) ?? '';
  expect(step1).toContain('Subject: Thank you so much, Rose17');
  await shoot(page, 'console-plan-editor', '#step-1');
});

it('moves a step, dry-runs the 50 running customers, applies exactly the dry run, and refuses a stale apply', async () => {
  await page.goto(editor());
  await page.locator('#s2-months').fill('');
  await page.locator('#s2-weeks').fill('6');
  await page.getByRole('button', { name: 'Save the plan' }).first().click();
  await page.getByText('Saved as plan version 3.').waitFor();
  await expect(page.locator('#versions-h + table').textContent()).resolves.toContain(
    'step 3 re-timed: 1 month -> 6 weeks after the sale',
  );

  await page.getByRole('link', { name: 'Re-plan running customers of garden' }).click();
  await page.getByRole('heading', { name: /Re-plan running customers: garden/ }).waitFor();
  await expectAccessible(page);
  const dry = await dryRunOnPage();
  await expectAccessible(page);
  const main = (await page.textContent('main')) ?? '';
  expect(main).toContain(`Of 50 running customers, ${dry.customers} would see a change`);
  expect(dry.counts.retimed).toBeGreaterThan(0);
  expect(dry.entries.every((e) => e.changes.every((c) => c.step === 3 && c.kind === 'retimed'))).toBe(true);
  await expect(page.locator('.figures').textContent()).resolves.toContain(`Moved to another date${dry.counts.retimed}`);
  for (const e of dry.entries) expect(main).toContain(e.name);
  await shoot(page, 'console-replan', '#result-h');

  await page.getByRole('button', { name: 'Apply exactly these changes' }).click();
  await page.getByText(`Done: ${dry.customers} customers' plans were changed`).waitFor();
  // The planned contacts are now exactly what the dry run said, and nothing else moved.
  const step3 = new Map((await touchesOf(3)).map((r) => [r.id, r]));
  for (const e of dry.entries)
    for (const c of e.changes) expect(step3.get(c.touchId!)!.dueAt.toISOString()).toBe(c.toDueAt!.toISOString());
  expect((await dryRunReplan(s.t.ctx, { segmentId: segment.id })).customers).toBe(0);

  // A dry run, then another edit before applying: the apply is refused and nothing changes.
  await page.goto(editor());
  await page.locator('#s3-months').fill('4');
  await page.getByRole('button', { name: 'Save the plan' }).first().click();
  await page.getByText('Saved as plan version 4.').waitFor();
  await dryRunOnPage();
  // Meanwhile another manager changes the same step again.
  const now = (await listSegments(s.t.ctx)).find((x) => x.id === segment.id)!;
  await updateSegment(
    s.t.ctx,
    segment.id,
    { name: now.name, plan: now.plan.map((x) => (x.step === 4 ? { ...x, offset: { months: 5 } } : x)) },
    'staff:another-manager',
  );
  const step4 = await touchesOf(4);
  await page.getByRole('button', { name: 'Apply exactly these changes' }).click();
  await page.getByRole('heading', { name: 'Not applied' }).waitFor();
  await expect(page.textContent('main')).resolves.toContain('the plan changed since the dry run');
  await expectAccessible(page);
  expect(await touchesOf(4)).toEqual(step4);
  expect((await listSegments(s.t.ctx)).find((x) => x.id === segment.id)!.planVersion).toBe(5);
});

it('shows the results dashboard: charts with their tables, and the calls ahead', async () => {
  await refreshRollups(s.t.ctx);
  await page.goto(web.url('/console/manager/results'));
  await page
    .getByRole('heading', { name: /Results/ })
    .first()
    .waitFor();
  await expect(page.locator('svg[role="img"]').count()).resolves.toBeGreaterThanOrEqual(3);
  await expect(page.locator('table').count()).resolves.toBeGreaterThanOrEqual(3);
  await expectAccessible(page);
  // No email frame here: the whole page.
  if (process.env.SCREENSHOTS === '1') await page.screenshot({ path: 'docs/console-results.png', fullPage: true });
});
