/**
 * The staff console in real Chromium against the real server, Postgres, Redis, workers and SMTP: a salesperson's
 * morning, what another salesperson may not see, CSRF, and a deactivated person's session. axe-core checks every
 * page on the way.
 */
import type { Page } from 'playwright-core';
import { saleBody } from '../helpers/app';
import { closeTestStack, startTestStack, type TestStack } from '../helpers/stack';
import { expectAccessible, openBrowser, type TestBrowser } from '../helpers/browser';
import { waitFor } from '../helpers/wait';
import { tasksOfTouch } from '../helpers/database';
import { linksOf } from '../helpers/links';

const MONDAY = new Date('2026-11-09T09:30:00Z');
const DAY = 86_400_000;
let s: TestStack;
let web: TestBrowser;
const staff: Record<string, { id: string; key: string }> = {};

async function api(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object, key = s.t.adminKey) {
  return s.t.app.inject({ method, url, headers: s.t.auth(key), ...(payload ? { payload } : {}) });
}

/** callSale records a sale by `salesperson` seven days before the clock (plus an hour), so its 7-day call is due. */
async function callSale(n: number, salesperson: string, firstName: string) {
  const res = await api(
    'POST',
    '/v1/sales',
    saleBody(
      {
        externalId: `FLOW-${n}`,
        soldAt: new Date(s.t.clock.now().getTime() - 7 * DAY - 3600_000).toISOString(),
        salesperson: { email: `${salesperson}@shop.example`, name: salesperson },
      },
      {
        externalId: `FLOW-C-${n}`,
        firstName,
        lastName: 'Lee',
        email: `${firstName.toLowerCase()}@example.com`,
        phone: `+61 2 5550 12${n}0`,
        timezone: 'Australia/Sydney',
      },
    ),
    s.t.posKey,
  );
  expect(res.statusCode).toBe(201);
  const body = res.json();
  return {
    customerId: body.customer.id as string,
    callTouchId: body.touches.find((x: { step: number }) => x.step === 2).id,
  };
}

beforeAll(async () => {
  s = await startTestStack('browser_flow', MONDAY);
  for (const [name, body] of [
    ['mia', { email: 'mia@shop.example', name: 'Mia Manager', role: 'manager', timezone: 'UTC' }],
    ['sam', { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson', timezone: 'UTC' }],
    ['pat', { email: 'pat@shop.example', name: 'Pat Post', role: 'salesperson', timezone: 'UTC' }],
  ] as const) {
    const res = await api('POST', '/v1/staff', body);
    expect(res.statusCode).toBe(201);
    const key = await api('POST', '/v1/keys', { name: `${name} key`, role: 'staff', staffId: res.json().id });
    staff[name] = { id: res.json().id, key: key.json().key };
  }
  web = await openBrowser(s.t);
});

afterAll(async () => {
  await web?.close();
  await closeTestStack(s ?? {});
});

async function accessible(page: Page) {
  await expectAccessible(page);
}

/** shoot saves a full-page screenshot under docs/ when run by `npm run screenshots` (SCREENSHOTS=1). */
async function shoot(page: Page, name: string) {
  if (process.env.SCREENSHOTS === '1') await page.screenshot({ path: `docs/${name}.png`, fullPage: true });
}

describe('a salesperson works through the calls of the day', () => {
  let ann: { customerId: string; callTouchId: string };
  let ben: { customerId: string; callTouchId: string };
  let samPage: Page;

  it('signs in by an emailed link and sees two calls, one overdue', async () => {
    // Ann's call fell due last Friday (overdue by Monday), Ben's this morning.
    const dispatched = async (touch: string) => {
      await s.worker.runMaintenance('dispatch');
      await waitFor(async () => (await tasksOfTouch(s.t.database.db, touch)).length === 1, `the task of ${touch}`);
    };
    s.t.clock.set(new Date(MONDAY.getTime() - 3 * DAY));
    ann = await callSale(1, 'sam', 'Ann');
    await dispatched(ann.callTouchId);
    s.t.clock.set(MONDAY);
    ben = await callSale(2, 'sam', 'Ben');
    await dispatched(ben.callTouchId);

    samPage = await web.newPage();
    await samPage.goto(web.url('/console/sign-in'));
    await accessible(samPage);
    await web.signIn(samPage, 'sam@shop.example', s.smtp);
    await accessible(samPage);
    const overdue = samPage.getByRole('region', { name: /Overdue/ });
    await expect(overdue.getByRole('listitem').count()).resolves.toBe(1);
    await expect(overdue.textContent()).resolves.toContain('Ann Lee');
    await expect(overdue.textContent()).resolves.toMatch(/1 business day overdue/);
    const today = samPage.getByRole('region', { name: /Due today/ });
    await expect(today.textContent()).resolves.toContain('Ben Lee');
    // The customer's own time, with their place: Sydney is UTC+11 in November.
    await expect(overdue.textContent()).resolves.toContain('20:30 for Ann, in Sydney');
    await expect(samPage.textContent('main')).resolves.toContain('(UTC)');
    await shoot(samPage, 'console-today');

    await samPage.getByRole('link', { name: 'Upcoming (next 14 days)' }).click();
    await samPage.waitForURL(/\/console\/upcoming$/);
    await accessible(samPage);
    await samPage.getByRole('link', { name: 'Today', exact: true }).first().click();
    await samPage.waitForURL(/\/console\/today$/);
  });

  it('records "no answer" on the first call (key 3), lands on the second and records "reached" with a note', async () => {
    await samPage.getByRole('link', { name: /Start calling/ }).click();
    await samPage.waitForURL(/\/console\/tasks\//);
    await samPage.getByRole('heading', { name: 'Call Ann Lee', level: 1 }).waitFor();
    await accessible(samPage);
    await expect(samPage.textContent('main')).resolves.toContain('Attempt 1 of 3');
    await shoot(samPage, 'console-task');
    await expect(samPage.getByRole('link', { name: '+61 2 5550 1210' }).first().getAttribute('href')).resolves.toBe(
      'tel:+61255501210',
    );

    // The help overlay.
    await samPage.keyboard.press('?');
    await samPage.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
    await accessible(samPage);
    await samPage.keyboard.press('Escape');

    await samPage.keyboard.press('3');
    await samPage.getByRole('heading', { name: 'Call Ben Lee', level: 1 }).waitFor();
    await expect(samPage.textContent('main')).resolves.toContain('Saved: No answer for Ann Lee');
    await accessible(samPage);
    await samPage.getByLabel(/^Notes/).fill('Loves the sofa; asked about a matching chair.');
    await samPage.getByRole('button', { name: /^Reached/ }).click();
    await samPage.waitForURL(/\/console\/today/);
    await samPage.getByText('Saved: Reached for Ben Lee').waitFor();
    await expect(samPage.getByRole('region', { name: /Due today/ }).textContent()).resolves.toContain('No more calls');
  });

  it('brings the first call back as attempt 2 two business days later; the customer page shows both', async () => {
    s.t.clock.set(new Date(MONDAY.getTime() + 2 * DAY)); // Wednesday: the 12-hour session has ended meanwhile
    // Meanwhile the thank-you email went out (Tuesday 09:00 in Sydney).
    await s.worker.runMaintenance('dispatch');
    await waitFor(
      () => s.smtp.messages.find((m) => m.envelope.to.includes('ann@example.com')),
      "Ann's thank-you email",
    );
    await samPage.goto(web.url('/console/today'));
    await samPage.waitForURL(/\/console\/sign-in/);
    await web.signIn(samPage, 'sam@shop.example', s.smtp);
    const today = samPage.getByRole('region', { name: /Due today/ });
    await expect(today.textContent()).resolves.toContain('Ann Lee');
    await expect(today.textContent()).resolves.toContain('Attempt 2 of 3');

    await samPage.goto(web.url(`/console/customers/${ann.customerId}`));
    await accessible(samPage);
    const main = (await samPage.textContent('main')) ?? '';
    expect(main).toContain('Call, attempt 1: No answer');
    expect(main).toMatch(/Call, attempt 2, due Wed 11 Nov 2026, 09:00 \(UTC\)/);
    expect(main).toContain('Email sent');
    await shoot(samPage, 'console-customer');

    await samPage.goto(web.url(`/console/customers/${ben.customerId}`));
    const benMain = (await samPage.textContent('main')) ?? '';
    expect(benMain).toContain('Call, attempt 1: Reached');
    expect(benMain).toContain('asked about a matching chair');

    await samPage.goto(web.url('/console/customers?q=Ann'));
    await accessible(samPage);
    await samPage.getByRole('link', { name: 'Ann Lee' }).waitFor();
  });

  it('answers another salesperson with a 404 for that task and customer, by link and by id', async () => {
    const [attempt2] = (await tasksOfTouch(s.t.database.db, ann.callTouchId)).filter((k) => k.status === 'open');
    const pat = await web.newPage();
    await web.signIn(pat, 'pat@shop.example', s.smtp);
    for (const path of [`/console/tasks/${attempt2!.id}`, `/console/customers/${ann.customerId}`]) {
      const res = await pat.goto(web.url(path));
      expect(res?.status()).toBe(404);
      await pat.getByRole('heading', { name: 'Page not found' }).waitFor();
    }
    await accessible(pat);
    await pat.goto(web.url('/console/customers?q=Ann'));
    await pat.getByRole('heading', { name: 'No customers found' }).waitFor();
    // By id, through Pat's API key.
    expect((await api('GET', `/v1/tasks/${attempt2!.id}`, undefined, staff.pat!.key)).statusCode).toBe(404);
    expect((await api('GET', `/v1/customers/${ann.customerId}`, undefined, staff.pat!.key)).statusCode).toBe(404);
    const outcome = await api('POST', `/v1/tasks/${attempt2!.id}/outcome`, { outcome: 'reached' }, staff.pat!.key);
    expect(outcome.statusCode).toBe(404);
  });

  it('refuses a form posted without its CSRF token', async () => {
    const [attempt2] = (await tasksOfTouch(s.t.database.db, ann.callTouchId)).filter((k) => k.status === 'open');
    const res = await samPage.request.post(web.url(`/console/tasks/${attempt2!.id}/outcome`), {
      form: { outcome: 'reached' },
      maxRedirects: 0,
    });
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain('This form has expired');
    expect((await tasksOfTouch(s.t.database.db, ann.callTouchId)).find((k) => k.id === attempt2!.id)!.status).toBe(
      'open',
    );
  });

  it('stops a deactivated salesperson at once', async () => {
    await samPage.goto(web.url('/console/today'));
    await samPage.getByRole('heading', { name: 'Your calls today' }).waitFor();
    expect((await api('PATCH', `/v1/staff/${staff.sam!.id}`, { active: false })).statusCode).toBe(200);
    await samPage.reload();
    await samPage.waitForURL(/\/console\/sign-in/);
    expect((await api('GET', '/v1/tasks', undefined, staff.sam!.key)).statusCode).toBe(401);
  });

  it("keeps the customer's own pages accessible too", async () => {
    const page = await web.newPage();
    const link = linksOf(ann.customerId, s.t.ctx.clock.now()).preferences;
    const res = await page.goto(web.url(link));
    expect(res?.status()).toBe(200);
    await accessible(page);
  });
});
