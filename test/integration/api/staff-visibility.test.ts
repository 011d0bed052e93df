/**
 * Who sees what, through staff API keys (the same rule as the console: services/visibility.service.ts): a
 * salesperson sees the customers whose sales they made or whose tasks they hold, a manager also their team's;
 * anything else is a 404, and a deactivated person's key stops.
 */
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';
import { insertTask } from '../../../src/db/repositories/task.repository';
import { findCustomer } from '../../../src/db/repositories/customer.repository';

let t: TestApp;
const staff: Record<string, { id: string; key: string }> = {};
let samsCustomer: string;
let patsCustomer: string;

async function api(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object, key = t.adminKey) {
  return t.app.inject({ method, url, headers: t.auth(key), ...(payload ? { payload } : {}) });
}

beforeAll(async () => {
  t = await createTestApp('staff_visibility');
  for (const [name, body] of [
    ['mia', { email: 'mia@shop.example', name: 'Mia Manager', role: 'manager' }],
    ['sam', { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson', manager: 'mia' }],
    ['pat', { email: 'pat@shop.example', name: 'Pat Post', role: 'salesperson' }],
  ] as const) {
    const { manager, ...rest } = body as typeof body & { manager?: string };
    const res = await api('POST', '/v1/staff', { ...rest, ...(manager ? { managerId: staff[manager]!.id } : {}) });
    expect(res.statusCode).toBe(201);
    const key = await api('POST', '/v1/keys', { name: `${name} key`, role: 'staff', staffId: res.json().id });
    staff[name] = { id: res.json().id, key: key.json().key };
  }
  const sale = (n: number, who: string, email: string) =>
    api(
      'POST',
      '/v1/sales',
      saleBody(
        { externalId: `VIS-${n}`, salesperson: { email: `${who}@shop.example`, name: who } },
        { externalId: `VIS-C-${n}`, email, phone: `+61 2 5550 100${n}` },
      ),
      t.posKey,
    );
  samsCustomer = (await sale(1, 'sam', 'ann@example.com')).json().customer.id;
  patsCustomer = (await sale(2, 'pat', 'bob@example.com')).json().customer.id;
});
afterAll(async () => {
  await t?.close();
});

it('shows a salesperson the customers they sold to, and 404 for the others', async () => {
  expect((await api('GET', `/v1/customers/${samsCustomer}`, undefined, staff.sam!.key)).statusCode).toBe(200);
  expect((await api('GET', `/v1/customers/${patsCustomer}`, undefined, staff.sam!.key)).statusCode).toBe(404);
  expect((await api('GET', `/v1/customers/${patsCustomer}/touches`, undefined, staff.sam!.key)).statusCode).toBe(404);
  const byEmail = await api('GET', '/v1/customers?email=bob@example.com', undefined, staff.sam!.key);
  expect(byEmail.json().customers).toEqual([]);
  expect((await api('GET', '/v1/customers?email=bob@example.com')).json().customers).toHaveLength(1);
});

it("shows a manager their team's customers, not others'", async () => {
  expect((await api('GET', `/v1/customers/${samsCustomer}`, undefined, staff.mia!.key)).statusCode).toBe(200);
  expect((await api('GET', `/v1/customers/${patsCustomer}`, undefined, staff.mia!.key)).statusCode).toBe(404);
});

it('lets a key note or complain only on customers it may see; a refused complaint pauses nothing', async () => {
  const refused = await api(
    'POST',
    `/v1/customers/${patsCustomer}/notes`,
    { body: 'rude', complaint: true },
    staff.sam!.key,
  );
  expect(refused.statusCode).toBe(404);
  expect((await findCustomer(t.database.db, patsCustomer))!.paused).toBe(false);
  const ok = await api('POST', `/v1/customers/${samsCustomer}/notes`, { body: 'Called back' }, staff.sam!.key);
  expect(ok.statusCode).toBe(201);
});

it('shows a customer to whoever holds one of their tasks', async () => {
  await insertTask(t.database.db, {
    customerId: patsCustomer,
    assigneeId: staff.sam!.id,
    kind: 'cleanup',
    dueAt: t.clock.now(),
    purpose: 'check the address',
    createdAt: t.clock.now(),
  });
  expect((await api('GET', `/v1/customers/${patsCustomer}`, undefined, staff.sam!.key)).statusCode).toBe(200);
});

it("stops a deactivated person's key at once", async () => {
  expect((await api('GET', '/v1/tasks', undefined, staff.pat!.key)).statusCode).toBe(200);
  expect((await api('PATCH', `/v1/staff/${staff.pat!.id}`, { active: false })).statusCode).toBe(200);
  expect((await api('GET', '/v1/tasks', undefined, staff.pat!.key)).statusCode).toBe(401);
});
