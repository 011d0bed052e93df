/**
 * The business page in Chromium: a manager fixes a mistyped country by the error beside it and saves; both states
 * pass axe. `npm run screenshots` also saves docs/console-business.png.
 */
import { createTestApp, type TestApp } from '../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp';
import { expectAccessible, openBrowser, type TestBrowser } from '../helpers/browser';
import { createStaff } from '../../src/services/staff.service';
import { getBusinessIdentity } from '../../src/services/business-identity.service';

let t: TestApp;
let smtp: TestSmtpServer;
let web: TestBrowser;

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp('browser_business', undefined, undefined, { smtpUrl: smtp.url });
  await createStaff(t.ctx, { email: 'mia@shop.example', name: 'Mia Manager', role: 'manager' }, 'test');
  web = await openBrowser(t);
});
afterAll(async () => {
  await web?.close();
  await t?.close();
  await smtp?.close();
});

test('a manager corrects the country beside its error, saves, and sees it saved', async () => {
  const page = await web.newPage();
  await web.signIn(page, 'mia@shop.example', smtp);
  await page.getByRole('link', { name: 'Business' }).click();
  await page.getByRole('heading', { name: 'Your business' }).waitFor();
  await expectAccessible(page);
  await page.getByLabel('Business name', { exact: true }).fill('Harbour Furniture');
  await page.getByLabel('Street address (one line per row, up to 4)').fill('4 Quay St');
  await page.getByLabel('Town or city').fill('Hobart');
  await page.getByLabel('Postcode').fill('7000');
  await page.getByLabel('Country code').fill('Australia');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
  await expectAccessible(page);
  if (process.env.SCREENSHOTS === '1') await page.screenshot({ path: 'docs/console-business.png', fullPage: true });
  await page.getByRole('link', { name: /two-letter country code/ }).click();
  await page.getByLabel('Country code').fill('AU');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved.').waitFor();
  expect((await getBusinessIdentity(t.ctx)).address).toMatchObject({ lines: ['4 Quay St'], country: 'AU' });
});
