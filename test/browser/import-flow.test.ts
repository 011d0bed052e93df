/**
 * The manager's imports, API keys and audit pages in real Chromium against the real server, Postgres, Redis and
 * workers: a 10,000-row CSV with some bad rows is uploaded through the form, its page follows the import live to
 * 100% and then lists the rejected rows (line, field, reason), which also download as CSV; without JavaScript the
 * same page works by reloading. An API key is created (shown once) and revoked; the audit trail shows both.
 * axe-core checks every page on the way.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { closeTestStack, startTestStack, type TestStack } from '../helpers/stack';
import { expectAccessible, openBrowser, type TestBrowser } from '../helpers/browser';
import { createStaff } from '../../src/services/staff.service';
import { getImportReport } from '../../src/services/import.service';
import { generateSales } from '../../bench/generate-sales';

const NOW = new Date('2026-11-09T09:30:00Z');
const ROWS = 10_000;
let s: TestStack;
let web: TestBrowser;
let dir: string;
let file: string;
let page: Page;

/** shot saves a screenshot when SHOTS_DIR is set (to look at the pages). */
async function shot(p: Page, name: string): Promise<void> {
  if (process.env.SHOTS_DIR) await p.screenshot({ path: join(process.env.SHOTS_DIR, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rapport-import-flow-'));
  file = join(dir, 'shop-history.csv');
  // About 1.3 rows a sale: enough sales for 10,000 rows, then the header and exactly 10,000 rows are kept.
  const generated = join(dir, 'generated.csv');
  await generateSales({
    count: 8000,
    format: 'csv',
    out: generated,
    badRate: 0.003,
    seed: 7,
    now: NOW,
    years: 3,
    source: 'old-till',
  });
  const lines = readFileSync(generated, 'utf8').split('\n');
  expect(lines.length).toBeGreaterThan(ROWS + 1);
  writeFileSync(file, `${lines.slice(0, ROWS + 1).join('\n')}\n`);
  s = await startTestStack('browser_imports', NOW);
  await createStaff(
    s.t.ctx,
    { email: 'mia@shop.example', name: 'Mia Manager', role: 'manager', timezone: 'Australia/Sydney' },
    'test',
  );
  web = await openBrowser(s.t);
  page = await web.newPage();
  await web.signIn(page, 'mia@shop.example', s.smtp);
}, 60_000);
afterAll(async () => {
  await web?.close();
  await closeTestStack(s ?? {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a 10,000-row CSV upload shows its progress up to 100% and lists its rejected rows', async () => {
  await page.goto(web.url('/console/manager/imports'));
  await page.getByRole('link', { name: 'Imports' }).waitFor();
  await expectAccessible(page);
  await page.getByLabel('File type').selectOption('csv');
  await page.getByLabel('File', { exact: true }).setInputFiles(file);
  // The test's workers run in this process: while they parse a batch the server answers late, so waits are long.
  await page.getByRole('button', { name: 'Upload and import' }).click({ noWaitAfter: true });
  await page.waitForURL(/\/console\/manager\/imports\/[0-9a-f-]{36}$/, { timeout: 60_000 });
  const id = /imports\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
  await expect(page.getByRole('heading', { name: 'Import of shop-history.csv' }).isVisible()).resolves.toBe(true);
  await expectAccessible(page);
  await shot(page, 'import-progress');

  // The page follows the import by itself (htmx polls its progress) until the bar reaches 100%.
  const seen = new Set<string>();
  const bar = page.locator('#import-bar');
  const deadline = Date.now() + 150_000;
  for (;;) {
    const value = (await bar.getAttribute('value')) ?? '';
    seen.add(value);
    if (value === '100') break;
    if (Date.now() > deadline) throw new Error(`the progress bar did not reach 100%: saw ${[...seen].join(', ')}`);
    await page.locator(`#import-bar:not([value="${value}"])`).waitFor({ timeout: 60_000 });
  }
  // It moved in steps (a batch at a time), not straight from nothing to done.
  expect(seen.size).toBeGreaterThan(2);
  expect(page.url()).toBe(web.url(`/console/manager/imports/${id}`)); // no reload: the same page moved on
  await page.getByRole('heading', { name: 'Finished' }).waitFor();
  await expect(page.locator('#import-progress strong').first().textContent()).resolves.toBe('100%');

  const report = await getImportReport(s.t.ctx, id);
  expect(report.status).toBe('completed');
  expect(report.lines).toBe(ROWS + 1);
  // A few bad rows hold a quoted line break: a record spans two lines, so slightly fewer rows than lines.
  expect(report.rowsRead).toBeGreaterThan(ROWS - 50);
  expect(report.rejected).toBeGreaterThan(0);
  expect(report.imported + report.duplicates + report.rejected).toBe(report.salesRead);
  const figures = page.locator('dl.figures');
  await expect(figures.getByText(String(report.imported), { exact: true }).count()).resolves.toBeGreaterThan(0);
  const table = page.getByRole('table', { name: /Rejected rows/ });
  const rows = table.locator('tbody tr');
  await expect(rows.count()).resolves.toBe(Math.min(200, report.rejections.length));
  for (const [i, r] of report.rejections.slice(0, 5).entries()) {
    const cells = rows.nth(i).locator('th, td');
    await expect(cells.nth(0).textContent()).resolves.toBe(String(r.line));
    await expect(cells.nth(1).textContent()).resolves.toBe(r.field);
    await expect(cells.nth(2).textContent()).resolves.toBe(r.reason);
  }
  await expectAccessible(page);
  await shot(page, 'import-done');

  // The link's file, fetched with the page's cookies (what a click on it downloads).
  const link = page.getByRole('link', { name: 'Download rejected rows as CSV' });
  const response = await page.request.get(web.url((await link.getAttribute('href'))!));
  expect(response.status()).toBe(200);
  expect(response.headers()['content-disposition']).toBe('attachment; filename="rejected-rows-shop-history.csv"');
  const csv = (await response.text()).trim().split('\r\n');
  expect(csv[0]).toBe('line,field,reason,external_id');
  expect(csv).toHaveLength(report.rejections.length + 1);
  expect(csv[1]!.startsWith(`${report.rejections[0]!.line},${report.rejections[0]!.field},`)).toBe(true);

  // Without JavaScript the page is the same, read when loaded; the list shows the import done.
  const plain = await web.newPage({ javaScript: false });
  await web.signIn(plain, 'mia@shop.example', s.smtp);
  await plain.goto(web.url(`/console/manager/imports/${id}`));
  await expect(plain.locator('#import-bar').getAttribute('value')).resolves.toBe('100');
  await expect(
    plain
      .getByRole('table', { name: /Rejected rows/ })
      .locator('tbody tr')
      .count(),
  ).resolves.toBe(Math.min(200, report.rejections.length));
  await plain.goto(web.url('/console/manager/imports'));
  await expect(plain.getByRole('row', { name: /shop-history\.csv/ }).textContent()).resolves.toContain('done');
  // (axe-core needs JavaScript: the list is checked in the first browser.)
  await page.goto(web.url('/console/manager/imports'));
  await expectAccessible(page);
  await shot(page, 'imports');
}, 240_000);

test('an API key is created and shown once, then revoked after asking; the audit trail shows both', async () => {
  await page.goto(web.url('/console/manager/keys'));
  await expectAccessible(page);
  await page.getByLabel('Name').fill('front till');
  await page.getByLabel(/^Till \(point of sale\)/).check();
  await page.getByRole('button', { name: 'Create the key' }).click();
  await page.getByRole('heading', { name: 'API key created' }).waitFor();
  const key = await page.getByLabel('The key “front till”').inputValue();
  expect(key).toMatch(/^rk_pos_/);
  await expectAccessible(page);
  await shot(page, 'key-created');
  const ok = await s.t.app.inject({ method: 'GET', url: '/v1/segments', headers: s.t.auth(key) });
  expect(ok.statusCode).not.toBe(401);

  await page.goto(web.url('/console/manager/keys'));
  await expect(page.content()).resolves.not.toContain(key);
  await page.getByRole('link', { name: 'Revoke “front till”' }).click();
  await page.getByRole('heading', { name: 'Revoke the key “front till”?' }).waitFor();
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Revoke “front till”' }).click();
  await page.getByText('The key “front till” is revoked').waitFor();
  await expectAccessible(page);
  await shot(page, 'keys');
  const refused = await s.t.app.inject({ method: 'GET', url: '/v1/segments', headers: s.t.auth(key) });
  expect(refused.statusCode).toBe(401);

  await page.goto(web.url('/console/manager/audit'));
  await page.getByLabel('Who').selectOption({ label: 'Mia Manager' });
  await page.getByLabel('Kind of change').fill('api_key');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/action=api_key/);
  const actions = await page.locator('tbody th[scope="row"] code').allTextContents();
  expect(actions).toEqual(['api_key.revoked', 'api_key.created']);
  await expect(page.locator('tbody td').nth(1).textContent()).resolves.toBe('Mia Manager');
  await expectAccessible(page);
  await shot(page, 'audit');
}, 60_000);
