/**
 * The People and Clean-up pages in real Chromium against the real server: a manager deactivates a salesperson from
 * the People page and finds their open call on his own Today; a mistake on the add-a-person form is shown beside its
 * field; a manager fixes a flagged customer's postal address and marks them resolved. axe-core checks each
 * template once (the same page after an action is not checked again).
 */
import type { Page } from 'playwright-core';
import { createTestApp, type TestApp } from '../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp';
import { expectAccessible, openBrowser, type TestBrowser } from '../helpers/browser';
import { createStaff } from '../../src/services/staff.service';
import { recordSale } from '../../src/services/sale.service';
import { findCustomer } from '../../src/db/repositories/customer.repository';
import { insertTask } from '../../src/db/repositories/task.repository';
import type { SaleInput } from '../../src/services/sale-input';

const NOW = new Date('2026-11-09T09:30:00Z'); // a Monday morning
let t: TestApp;
let smtp: TestSmtpServer;
let web: TestBrowser;
let page: Page;
let bea: string;
let task: string;

function sale(name: string, customer: Record<string, unknown>): SaleInput {
  return {
    externalId: `PF-${name}`,
    source: 'shop-pos',
    soldAt: new Date(NOW.getTime() - 7 * 86_400_000).toISOString(),
    total: { amount: '1299.00', currency: 'AUD' },
    items: [{ name: '3-seat sofa', category: 'furniture', quantity: 1, unitPrice: '1299.00' }],
    customer: { externalId: `PFC-${name}`, firstName: name, lastName: 'Lee', timezone: 'UTC', ...customer },
    salesperson: { email: 'sam@shop.example', name: 'Sam Shaw' },
  } as SaleInput;
}

/** shoot saves a full-page screenshot under docs/ when run with SCREENSHOTS=1. */
async function shoot(name: string) {
  if (process.env.SCREENSHOTS === '1') await page.screenshot({ path: `docs/${name}.png`, fullPage: true });
}

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp('browser_people', NOW, undefined, { smtpUrl: smtp.url });
  const max = await createStaff(
    t.ctx,
    { email: 'max@shop.example', name: 'Max Manager', role: 'manager', timezone: 'UTC' },
    'test',
  );
  const sam = await createStaff(
    t.ctx,
    { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson', managerId: max.id, timezone: 'UTC' },
    'test',
  );
  const ann = (await recordSale(t.ctx, sale('Ann', { email: 'ann@example.com', phone: '+61 2 5550 1210' }))).response;
  task = await insertTask(t.database.db, {
    customerId: ann.customer.id,
    assigneeId: sam.id,
    kind: 'call',
    dueAt: NOW,
    purpose: 'Make sure the customer is happy with the product',
    createdAt: NOW,
  });
  // Bea left only a phone number: her thank-you letter had nowhere to go, so she is flagged for clean-up.
  bea = (await recordSale(t.ctx, sale('Bea', { phone: '+61 2 5550 1220' }))).response.customer.id;
  web = await openBrowser(t);
  page = await web.newPage();
  await web.signIn(page, 'max@shop.example', smtp);
});

afterAll(async () => {
  await web?.close();
  await t?.close();
  await smtp?.close();
});

test('a manager deactivates a salesperson from the People page and finds their open call on his Today', async () => {
  await page.getByRole('link', { name: 'People', exact: true }).click();
  await page.getByRole('heading', { name: 'People', level: 1 }).waitFor();
  await expectAccessible(page);
  await shoot('people');
  await page.getByRole('link', { name: 'Sam Shaw' }).click();
  await page.getByRole('heading', { name: 'Sam Shaw', level: 1 }).waitFor();
  await expectAccessible(page);
  await shoot('people-edit');

  await page.getByRole('link', { name: 'Deactivate Sam Shaw' }).click();
  await page.getByRole('heading', { name: 'Deactivate Sam Shaw?' }).waitFor();
  await expectAccessible(page);
  await expect(page.textContent('main')).resolves.toContain('their open task moves to Max Manager, their manager');
  await shoot('people-deactivate');
  await page.getByRole('button', { name: 'Deactivate Sam Shaw' }).click();
  await page.getByText('Sam Shaw is deactivated.').waitFor();
  await expect(page.textContent('main')).resolves.toContain('1 open task moved to their manager');

  await page.getByRole('link', { name: 'Today', exact: true }).click();
  await page.waitForURL(/\/console\/today$/);
  const today = page.getByRole('region', { name: /Due today/ });
  await expect(today.textContent()).resolves.toContain('Ann Lee');
  await expect(today.textContent()).resolves.toContain('Make sure the customer is happy with the product');
  const row = await t.database.db.selectFrom('tasks').select('assigneeId').where('id', '=', task).executeTakeFirst();
  expect(row?.assigneeId).not.toBeNull();
});

test('the add-a-person form shows a mistake beside its field and in the summary', async () => {
  await page.goto(web.url('/console/manager/people/new'));
  await page.getByLabel('Name').fill('Nia New');
  await page.getByLabel('Work email').fill('nia at shop');
  await page.getByLabel('Monday').check();
  await page.getByRole('button', { name: 'Add this person' }).click();
  await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
  await expect(page.locator('#email-error').textContent()).resolves.toBe(
    'Enter an email address like name@example.com',
  );
  await expect(page.getByLabel('Name').inputValue()).resolves.toBe('Nia New');
  await expectAccessible(page);
  await shoot('people-add-error');
});

test("a manager fixes a flagged customer's address and marks them resolved", async () => {
  await page.goto(web.url('/console/today'));
  await page.getByRole('link', { name: 'Clean-up', exact: true }).click();
  await page.getByRole('heading', { name: 'Clean-up', level: 1 }).waitFor();
  await expectAccessible(page);
  await expect(page.textContent('main')).resolves.toContain('No address to write to');
  await shoot('clean-up');
  await page.getByRole('link', { name: 'Bea Lee' }).click();
  await page.getByRole('heading', { name: 'Bea Lee', level: 1 }).waitFor();

  await page.getByLabel('Street address').fill('7 Rose Lane');
  await page.getByLabel('Town or city').fill('Sydney');
  await page.getByLabel('State or region').fill('NSW');
  await page.getByLabel('Postcode').fill('2000');
  await page.getByLabel('Country code').fill('AU');
  await page.getByRole('button', { name: 'Save the details' }).click();
  await page.getByText('Details saved.').waitFor();
  await expectAccessible(page);
  await shoot('clean-up-customer');
  expect((await findCustomer(t.database.db, bea))!.address).toMatchObject({ lines: ['7 Rose Lane'], country: 'AU' });

  await page.getByRole('button', { name: 'Resolved' }).click();
  await page.getByText('Bea Lee is off the clean-up list.').waitFor();
  await expect(page.textContent('main')).resolves.toContain('Nobody needs cleaning up.');
  expect((await findCustomer(t.database.db, bea))!.needsCleanup).toBe(false);
});

test('a possible duplicate shows on the clean-up list with what the other sale gave, until resolved', async () => {
  // Cy's phone came again with someone else's name and email and no customer number.
  await recordSale(t.ctx, sale('Cy', { externalId: undefined, email: 'cy@example.com', phone: '+61 2 5550 1230' }));
  await recordSale(t.ctx, {
    ...sale('Di', {}),
    customer: { firstName: 'Di', lastName: 'Lee', email: 'di@example.com', phone: '+61255501230', timezone: 'UTC' },
  } as SaleInput);
  await page.goto(web.url('/console/manager/clean-up'));
  await expect(page.textContent('main')).resolves.toContain(
    'Possible duplicate: a sale with this phone number gave the name Di and the email di@example.com.',
  );
  await expectAccessible(page);
  await shoot('clean-up-duplicate');
  await page.getByRole('link', { name: 'Cy Lee' }).click();
  await page.getByRole('button', { name: 'Resolved' }).click();
  await page.getByText('Cy Lee is off the clean-up list.').waitFor();
});
