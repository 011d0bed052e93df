/**
 * The business page of the manager console: the identity in force, saved as a whole through the same service as
 * the API, errors beside their field with nothing saved, sends on hold until the business has a name, and only for
 * managers.
 */
import { createTestApp, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';
import { consoleClient, type ConsoleClient } from '../../helpers/console-client';
import { createStaff } from '../../../src/services/staff.service';
import { getBusinessIdentity } from '../../../src/services/business-identity.service';

let t: TestApp;
let smtp: TestSmtpServer;
let mia: ConsoleClient;

const GOOD = {
  name: 'Harbour Furniture',
  addressLines: '4 Quay St\nLevel 2',
  city: 'Hobart',
  region: 'TAS',
  postalCode: '7000',
  country: 'au',
  phone: '+61 3 5550 2000',
  website: 'harbour.example',
  emailFrom: 'Harbour Furniture <hello@harbour.example>',
  closing: 'Warm regards,',
  showTitle: 'on',
  showPhone: 'on',
};

beforeAll(async () => {
  smtp = await startSmtpServer();
  // No business name in the environment: sends are held until a manager saves one.
  t = await createTestApp('web_business', undefined, undefined, {
    smtpUrl: smtp.url,
    settings: { identity: { name: null, address: null, phone: null, website: null, emailFrom: null } },
  });
  await createStaff(t.ctx, { email: 'mia@shop.example', name: 'Mia Manager', role: 'manager' }, 'test');
  await createStaff(t.ctx, { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson' }, 'test');
  mia = consoleClient(t.app);
  await mia.signIn('mia@shop.example', smtp);
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

test('says sends are on hold while the business has no name', async () => {
  const page = await mia.get('/console/manager/business');
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('are on hold');
  expect(page.body).toContain('<label for="name">Business name</label>');
});

test('a bad field is shown beside it and in the summary, and nothing is saved', async () => {
  await mia.get('/console/manager/business');
  const res = await mia.post('/console/manager/business', { ...GOOD, country: 'Australia' });
  expect(res.statusCode).toBe(400);
  expect(res.body).toContain('<a href="#country">Country code: Must be a two-letter country code, e.g. AU.</a>');
  expect(res.body).toContain('id="country-error">Must be a two-letter country code, e.g. AU.</p>');
  expect(res.body).toContain('value="Harbour Furniture"'); // what was typed stays in the form
  expect((await getBusinessIdentity(t.ctx)).name).toBeNull();

  const noName = await mia.post('/console/manager/business', { ...GOOD, name: ' ' });
  expect(noName.statusCode).toBe(400);
  expect(noName.body).toContain('id="name-error">Is required: it signs every letter and email.</p>');
});

test('saves the whole identity; the hold lifts', async () => {
  await mia.get('/console/manager/business');
  const res = await mia.post('/console/manager/business', GOOD);
  expect(res.statusCode).toBe(303);
  expect(res.headers.location).toBe('/console/manager/business?saved=1');
  const saved = await t.app.inject({
    method: 'GET',
    url: '/v1/settings/business',
    headers: t.auth(t.adminKey),
  });
  expect(saved.json()).toMatchObject({
    name: 'Harbour Furniture',
    address: { lines: ['4 Quay St', 'Level 2'], city: 'Hobart', region: 'TAS', postalCode: '7000', country: 'AU' },
    phone: '+61 3 5550 2000',
    emailFrom: 'Harbour Furniture <hello@harbour.example>',
    signature: { closing: 'Warm regards,', showTitle: true, showBusiness: false, showPhone: true },
    sendsHeld: null,
  });
  const page = await mia.get('/console/manager/business?saved=1');
  expect(page.body).toContain('Saved.');
  expect(page.body).not.toContain('are on hold');
  expect(page.body).toContain('4 Quay St\nLevel 2</textarea>');
});

test('is a manager page: a salesperson gets the not-found page', async () => {
  const sam = consoleClient(t.app);
  await sam.signIn('sam@shop.example', smtp);
  expect((await sam.get('/console/manager/business')).statusCode).toBe(404);
  expect((await sam.post('/console/manager/business', GOOD)).statusCode).toBe(404);
});
