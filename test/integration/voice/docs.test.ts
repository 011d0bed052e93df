/**
 * The pictures in README.md: a default letter (rendered to PNG with pdftoppm) and the customer's page (a Chromium
 * screenshot). Run with RAPPORT_DOCS=1 to write them to docs/; otherwise the letter and page are still rendered and
 * checked for what the pictures must show.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { renderTouchLetter } from '../../../src/services/letter.service';
import { loadTouchContext } from '../../../src/services/touch-context.service';
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';
import { preferenceToken } from '../../helpers/links';

const run = promisify(execFile);
const WRITE = process.env.RAPPORT_DOCS === '1';
const DOCS = path.resolve(__dirname, '../../../docs');

let t: TestApp;
let dir: string;

beforeAll(async () => {
  t = await createTestApp('voice-docs', new Date('2026-11-04T23:00:00Z'));
  dir = await mkdtemp(path.join(tmpdir(), 'rapport-docs-'));
  const admin = (url: string, method: 'PUT' | 'POST', payload: Record<string, unknown>) =>
    t.app.inject({ method, url, headers: t.auth(t.adminKey), payload });
  await admin('/v1/settings/business', 'PUT', {
    name: 'Lee & Co Furniture',
    address: { lines: ['12 Harbour St'], city: 'Sydney', region: 'NSW', postalCode: '2000', country: 'AU' },
    phone: '02 5550 1000',
    website: 'leeandco.example',
    emailFrom: 'Lee & Co Furniture <hello@leeandco.example>',
  });
  await admin('/v1/staff', 'POST', {
    email: 'sam@leeandco.example',
    name: 'Sam Shaw',
    title: 'Sales consultant',
    phone: '0400 555 123',
    role: 'salesperson',
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await t.close();
});

it('renders a default letter and the customer page as they are meant to be seen', async () => {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/sales',
    headers: t.auth(t.posKey),
    payload: saleBody(
      { soldAt: '2026-11-02T23:00:00Z', salesperson: { email: 'sam@leeandco.example', name: 'Sam Shaw' } },
      {
        preferredChannel: 'letter',
        address: { lines: ['1 Main St'], city: 'Parramatta', region: 'NSW', postalCode: '2150', country: 'AU' },
      },
    ),
  });
  expect(res.statusCode).toBe(201);
  const customerId = res.json().customer.id;
  const row = await t.database.db
    .selectFrom('touches')
    .selectAll()
    .where('customerId', '=', customerId)
    .where('step', '=', 1)
    .executeTakeFirstOrThrow();
  const tc = (await loadTouchContext(t.ctx, {
    ...row,
    channel: 'letter',
    attempts: 0,
    letterBatchId: null,
    leaseUntil: row.dueAt,
  } as never))!;
  const letter = await renderTouchLetter(t.ctx, tc, null);
  const pdf = path.join(dir, 'letter.pdf');
  await writeFile(pdf, letter.pdf);
  const out = WRITE ? path.join(DOCS, 'letter') : path.join(dir, 'letter');
  await run('pdftoppm', ['-png', '-r', '90', '-singlefile', pdf, out]);

  const page = await t.app.inject({ method: 'GET', url: `/p/${preferenceToken(customerId, t.clock.now())}` });
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('Lee &amp; Co Furniture');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  try {
    const tab = await browser.newPage({ viewport: { width: 900, height: 1200 } });
    await tab.setContent(page.body, { waitUntil: 'load' });
    expect(await tab.locator('header.shop').innerText()).toContain('Sam Shaw');
    await tab.screenshot({
      path: WRITE ? path.join(DOCS, 'customer-page.png') : path.join(dir, 'page.png'),
      fullPage: false,
    });
  } finally {
    await browser.close();
  }
});
