/**
 * A manager's newsletter and print room in real Chromium against the real server, Postgres, Redis, workers and
 * SMTP: a newsletter to one segment shows its recipient count, previews as a chosen customer, test-sends to the
 * manager, is sent and reaches exactly that many; a print batch's PDF downloads with one page per letter and marking
 * it mailed marks its letters sent. axe-core checks every page on the way.
 */
import { readFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { PDFDocument } from 'pdf-lib';
import type { Locator, Page } from 'playwright-core';
import { saleBody } from '../helpers/app';
import { closeTestStack, startTestStack, type TestStack } from '../helpers/stack';
import { expectAccessible, openBrowser, type TestBrowser } from '../helpers/browser';
import { waitFor } from '../helpers/wait';

const NOW = new Date('2026-11-10T03:00:00Z');
let s: TestStack;
let web: TestBrowser;
let page: Page;
let segmentId: string;
const SUBJECT = 'Winter care, {{ customer.firstName }}';

async function api(method: 'GET' | 'POST', url: string, payload?: object, key = s.t.adminKey) {
  return s.t.app.inject({ method, url, headers: s.t.auth(key), ...(payload ? { payload } : {}) });
}

/** addCustomers inserts later-years customers of a segment (first names `names`), with `patch` columns. */
async function addCustomers(names: string[], patch: Record<string, unknown> = {}, segment = segmentId) {
  const { rows } = await sql<{ id: string }>`
    insert into customers (source, external_id, first_name, last_name, email, referral_code, segment_id, program)
    select 'test', 'NL-' || n, n, 'Gardener', lower(n) || '@example.com', 'REF-' || upper(n), ${segment}::uuid, 'later_years'
    from unnest(${names}::text[]) n
    returning id`.execute(s.t.database.db);
  const ids = rows.map((r) => r.id);
  if (Object.keys(patch).length)
    await s.t.database.db.updateTable('customers').set(patch).where('id', 'in', ids).execute();
  return ids;
}

/** shoot saves a full-page screenshot under docs/ when run by `npm run screenshots` (SCREENSHOTS=1). */
async function shoot(p: Page, name: string) {
  if (process.env.SCREENSHOTS === '1') await p.screenshot({ path: `docs/${name}.png`, fullPage: true });
}

/**
 * press activates a button or link below the preview's sandboxed frame from the keyboard. A pointer click there now
 * and then lands on the frame (the page scrolls under the pointer as htmx settles and console.js focuses the new main
 * part), where Playwright's check of what it hit cannot run and waits forever.
 */
async function press(l: Locator) {
  await l.focus();
  await l.press('Enter');
}

const RECIPIENTS = ['Ada', 'Ben', 'Cleo', 'Dev', 'Eli'];

beforeAll(async () => {
  s = await startTestStack('browser_newsletter', NOW);
  const mia = await api('POST', '/v1/staff', {
    email: 'mia@shop.example',
    name: 'Mia Manager',
    role: 'manager',
    timezone: 'UTC',
  });
  expect(mia.statusCode).toBe(201);
  const seg = await api('POST', '/v1/segments', { name: 'garden', priority: 10, match: { categories: ['garden'] } });
  expect(seg.statusCode).toBe(201);
  segmentId = seg.json().id;
  const other = await api('POST', '/v1/segments', {
    name: 'kitchen',
    priority: 11,
    match: { categories: ['kitchen'] },
  });
  await addCustomers(RECIPIENTS);
  await addCustomers(['Olga'], { newsletterOptOut: true });
  await addCustomers(['Bea'], { emailStatus: 'bounced' });
  await addCustomers(['Kit', 'Kai'], {}, other.json().id);
  web = await openBrowser(s.t);
  page = await web.newPage();
  await web.signIn(page, 'mia@shop.example', s.smtp);
});

afterAll(async () => {
  await web?.close();
  await closeTestStack(s ?? {});
});

describe('a newsletter to one segment', () => {
  it('is written in the composer; a missing subject is shown beside the field', async () => {
    await page.goto(web.url('/console/manager/newsletters'));
    await expectAccessible(page);
    await page.getByRole('link', { name: 'Write a newsletter' }).click();
    await page.waitForURL(/\/newsletters\/new$/);
    await expectAccessible(page);
    await page.getByLabel('Subject').fill(SUBJECT);
    await page
      .getByLabel('Message')
      .fill(
        'Hello {{ customer.firstName }},\n\nWinter is coming: **mulch** your roses before the first frost, and ' +
          'bring pots in.\n\n- prune after flowering\n- water less\n\n[Our winter guide](https://shop.example/winter)',
      );
    await page.getByLabel('Who gets it').selectOption({ label: 'Only the segment “garden”' });
    await page.getByRole('heading', { name: 'Write a newsletter' }).click();
    await shoot(page, 'console-newsletter');

    // Without a subject: the form comes back with the error beside the field and what was typed kept.
    await page.getByLabel('Subject').fill('');
    await page.getByRole('button', { name: 'Save and check who gets it' }).click();
    await page.getByRole('alert').getByText('Subject: Write a subject.').waitFor();
    await expectAccessible(page);
    await expect(page.getByLabel('Message').inputValue()).resolves.toContain('[Our winter guide]');

    await page.getByLabel('Subject').fill(SUBJECT);
    await page.getByLabel('As soon as I schedule it').check();
    await page.getByRole('button', { name: 'Save and check who gets it' }).click();
    await page.getByText('Saved as a draft').waitFor();
    await expectAccessible(page);
  });

  it('shows who it would reach, previews as a chosen customer and sends a test to the manager', async () => {
    await expect(page.locator('#recipient-count').textContent()).resolves.toContain('5 customers would get it');

    await page.getByLabel('Show it as').selectOption({ label: 'Cleo Gardener (cleo@example.com)' });
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/customer=/);
    await page.getByText('Subject: Winter care, Cleo').waitFor();
    const frame = page.frameLocator('iframe.email-preview');
    await frame.getByText('Hello Cleo,').waitFor();
    await expect(frame.locator('strong').first().textContent()).resolves.toBe('mulch');
    await expect(frame.getByRole('link', { name: 'Our winter guide' }).getAttribute('href')).resolves.toBe(
      'https://shop.example/winter',
    );
    await expect(page.getByText('Subject: Winter care, Cleo').count()).resolves.toBe(1);
    await expectAccessible(page);

    const before = s.smtp.messages.length;
    await press(page.getByRole('button', { name: 'Send a test to me' }));
    await page.getByText('A test was emailed to you').waitFor();
    const test = await waitFor(
      () => s.smtp.messages.slice(before).find((m) => m.envelope.to.includes('mia@shop.example')),
      'the test email to the manager',
    );
    expect(test.subject).toBe('[Test] Winter care, Cleo');
    expect(test.text).toContain('Hello Cleo,');

    // "Throw the draft away" asks first; keeping it changes nothing.
    await press(page.getByRole('link', { name: 'Throw the draft away' }));
    await page.getByRole('heading', { name: /Throw away the draft/ }).waitFor();
    await expectAccessible(page);
    await page.getByRole('link', { name: 'Keep it' }).click();
    await page.getByRole('button', { name: 'Send it now' }).waitFor();
  });

  it('is sent and reaches exactly the customers counted', async () => {
    const before = s.smtp.messages.length;
    await press(page.getByRole('button', { name: 'Send it now' }));
    await page.getByText('Scheduled. It goes out').waitFor();
    await s.worker.runMaintenance('newsletters');
    await s.worker.runMaintenance('dispatch');
    const sent = await waitFor(() => {
      const m = s.smtp.messages.slice(before).filter((x) => x.subject?.startsWith('Winter care, '));
      return m.length >= RECIPIENTS.length ? m : null;
    }, 'the newsletter at every recipient');
    // Exactly those: no one else, no one twice (the opted out, the bounced and the other segment get nothing).
    await s.worker.runMaintenance('dispatch');
    const all = s.smtp.messages.slice(before).filter((x) => x.subject?.startsWith('Winter care, '));
    expect(all).toHaveLength(RECIPIENTS.length);
    expect(sent.map((m) => m.envelope.to[0]).sort()).toEqual(RECIPIENTS.map((n) => `${n.toLowerCase()}@example.com`));
    const id = /newsletters\/([0-9a-f-]{36})/.exec(page.url())![1]!;
    await waitFor(async () => {
      const r = await s.t.database.db
        .selectFrom('touches')
        .select('status')
        .where('newsletterId', '=', id)
        .where('status', '=', 'sent')
        .execute();
      return r.length === RECIPIENTS.length;
    }, 'the newsletter touches recorded sent');
    await s.worker.runMaintenance('newsletters');
    await page.goto(web.url('/console/manager/newsletters'));
    await expect(page.getByRole('table').textContent()).resolves.toMatch(/sent\s*5\s*5\s*0/);
    await expectAccessible(page);
  });
});

describe('the print batch', () => {
  let touchIds: string[];

  it('downloads as one PDF page per letter and, once marked mailed, its letters are sent', async () => {
    touchIds = [];
    for (const [i, firstName] of ['Lou', 'Max'].entries()) {
      const res = await api(
        'POST',
        '/v1/sales',
        saleBody(
          { externalId: `BL-${i}`, soldAt: '2026-11-05T01:00:00Z' },
          {
            externalId: `C-BL-${i}`,
            firstName,
            email: `${firstName.toLowerCase()}@example.com`,
            phone: `+61 2 5550 30${i}0`,
            preferredChannel: 'letter',
          },
        ),
        s.t.posKey,
      );
      expect(res.statusCode).toBe(201);
      const first = (res.json() as { touches: { id: string; step: number; dueAt: string }[] }).touches.find(
        (x) => x.step === 1,
      )!;
      if (new Date(first.dueAt) > s.t.clock.now()) s.t.clock.set(new Date(first.dueAt));
      touchIds.push(first.id);
    }
    await s.worker.runMaintenance('dispatch');
    const rows = await waitFor(async () => {
      const r = await s.t.database.db
        .selectFrom('touches')
        .select(['letterBatchId', 'status'])
        .where('id', 'in', touchIds)
        .execute();
      return r.every((x) => x.letterBatchId) ? r : null;
    }, 'the letters in the print batch');
    expect(new Set(rows.map((r) => r.letterBatchId)).size).toBe(1);

    await page.getByRole('link', { name: 'Letters', exact: true }).click();
    await page.waitForURL(/\/manager\/letters$/);
    await expectAccessible(page);
    await page
      .getByRole('region', { name: /^Today/ })
      .getByRole('link')
      .first()
      .click();
    await page.getByRole('heading', { name: /^Print batch/ }).waitFor();
    await expectAccessible(page);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: /Download the letters/ }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^letters-\d{4}-\d{2}-\d{2}-1\.pdf$/);
    const pdf = await PDFDocument.load(await readFile((await download.path())!));
    expect(pdf.getPageCount()).toBe(2);

    await page.getByRole('link', { name: 'Mark mailed' }).click();
    await page.getByRole('heading', { name: /mailed\?$/ }).waitFor();
    await expectAccessible(page);
    const queued = await s.t.database.db.selectFrom('touches').select('status').where('id', 'in', touchIds).execute();
    expect(queued.map((r) => r.status)).toEqual(['queued', 'queued']);
    await page.getByRole('button', { name: 'Yes, mark 2 letters mailed' }).click();
    await page.getByText('Marked mailed').waitFor();
    await expectAccessible(page);
    const sent = await s.t.database.db.selectFrom('touches').select('status').where('id', 'in', touchIds).execute();
    expect(sent.map((r) => r.status)).toEqual(['sent', 'sent']);
  });
});
