/**
 * Sends in the business's voice, through the real worker and SMTP server: held while the business has no name (and
 * said so on /readyz), out once it is set; a step with `sender: "manager"` refused while there is no manager, then
 * signed by the manager; and the customer's page and download never show a step's purpose, talking points or a path.
 */
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';
import { startTestWorker, type TestWorker } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';
import { createEmailChannel } from '../../../src/channels/email.channel';
import { DEFAULT_PLAN } from '../../unit/domain/default-plan.fixture';
import { preferenceToken } from '../../helpers/links';
import { dataLink, form } from '../customer-control/helpers';

const OPERATOR_TOKEN = 'operator-token-0123456789abcdef0123456789';

const NOW = new Date('2026-11-02T10:00:00Z'); // Monday 10:00 UTC, in the send window
const NO_NAME = { name: null, address: null, phone: null, website: null, emailFrom: null };

let t: TestApp;
let smtp: TestSmtpServer;
let worker: TestWorker;

beforeAll(async () => {
  smtp = await startSmtpServer();
  const email = createEmailChannel({ smtpUrl: smtp.url, outboxDir: 'outbox', from: 'x@shop.test', pool: false });
  t = await createTestApp('voice-sends', NOW, undefined, {
    settings: { identity: NO_NAME },
    email,
    http: { metricsToken: OPERATOR_TOKEN },
  });
  worker = await startTestWorker({
    database: t.database,
    clock: t.clock,
    smtpUrl: smtp.url,
    settings: { identity: NO_NAME },
  });
});
afterAll(async () => {
  await worker?.close();
  await smtp?.close();
  await t?.close();
});

const api = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
  t.app.inject({ method, url, headers: t.auth(t.adminKey), ...(payload ? { payload } : {}) });

async function sell(tag: string, patch: Record<string, unknown> = {}) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/sales',
    headers: t.auth(t.posKey),
    payload: saleBody(
      { externalId: `S-${tag}`, soldAt: '2026-10-29T10:00:00Z', ...patch },
      {
        externalId: `C-${tag}`,
        firstName: tag,
        email: `${tag.toLowerCase()}@example.com`,
        phone: undefined,
        timezone: 'UTC',
      },
    ),
  });
  expect(res.statusCode).toBe(201);
  return res.json() as { customer: { id: string }; touches: { id: string; step: number; status: string }[] };
}

const statusOf = async (id: string) =>
  (await t.database.db.selectFrom('touches').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
const mailTo = (addr: string) => smtp.messages.filter((m) => m.envelope.to.includes(addr));

it('holds letters and emails while the business has no name, says why on /readyz, and sends them once it is set', async () => {
  const sold = await sell('Hana');
  const first = sold.touches.find((x) => x.step === 1)!;
  // The reason is for operators: /readyz shows it with the metrics token (the public gets up or down only).
  const ready = await t.app.inject({
    method: 'GET',
    url: '/readyz',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
  });
  expect(ready.statusCode).toBe(200);
  expect(ready.json().holds.sends).toMatch(/^held: the business name is not set/);

  await worker.runMaintenance('dispatch');
  await worker.runMaintenance('dispatch');
  expect(await statusOf(first.id)).toBe('scheduled'); // waiting, not lost
  expect(mailTo('hana@example.com')).toHaveLength(0);

  const saved = await api('PUT', '/v1/settings/business', { name: 'Harbour Bikes', phone: '+61 2 5550 2000' });
  expect(saved.statusCode).toBe(200);
  expect(saved.json()).toMatchObject({ name: 'Harbour Bikes', sendsHeld: null });
  const readyAfter = await t.app.inject({
    method: 'GET',
    url: '/readyz',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
  });
  expect(readyAfter.json().checks).toBeDefined();
  expect(readyAfter.json().holds).toBeUndefined();

  await worker.runMaintenance('dispatch');
  const [mail] = await waitFor(
    () => (mailTo('hana@example.com').length ? mailTo('hana@example.com') : null),
    'the email',
  );
  expect(mail.from?.value[0].name).toBe('Harbour Bikes');
  expect(mail.text).toContain('Harbour Bikes');
  expect(mail.text).toContain('Phone +61 2 5550 2000');
  await waitFor(async () => (await statusOf(first.id)) === 'sent' || null, 'the touch recorded sent');
});

it('refuses to save a step signed by a manager while there is none, then signs it with the manager', async () => {
  await api('PUT', '/v1/settings/business', { name: 'Harbour Bikes', phone: '+61 2 5550 2000' });
  const segment = {
    name: 'service plans',
    priority: 10,
    match: { categories: ['service'] },
    plan: [
      {
        step: 1,
        offset: { days: 2 },
        channel: 'mail',
        sender: 'manager',
        purpose: 'Welcome from the workshop manager',
        template: {
          subject: 'Your service plan, {{ customer.firstName }}',
          body: 'Dear {{ customer.firstName }},\n\nI look after the workshop. Call me on {{ sender.phone }} any time.',
        },
      },
    ],
  };
  const refused = await api('POST', '/v1/segments', segment);
  expect(refused.statusCode).toBe(400);
  expect(refused.json().error.message).toMatch(/^plan\.0\.sender: no active manager/);

  const mia = await api('POST', '/v1/staff', {
    email: 'mia@harbour.example',
    name: 'Mia Park',
    title: 'Workshop manager',
    phone: '+61 400 555 777',
    role: 'manager',
  });
  expect(mia.statusCode).toBe(201);
  expect((await api('POST', '/v1/segments', segment)).statusCode).toBe(201);

  await sell('Ivo', {
    items: [{ sku: 'SVC-1', name: 'service plan', category: 'service', quantity: 1, unitPrice: '199.00' }],
    total: { amount: '199.00', currency: 'AUD' },
  });
  await worker.runMaintenance('dispatch');
  const [mail] = await waitFor(
    () => (mailTo('ivo@example.com').length ? mailTo('ivo@example.com') : null),
    'the email',
  );
  expect(mail.text).toMatch(/Kind regards,\nMia Park\nWorkshop manager\nHarbour Bikes\nPhone \+61 400 555 777/);
  expect(mail.text).not.toContain('Sam Shaw');
  expect(mail.replyTo?.value[0].address).toBe('mia@harbour.example');
});

it('never shows a step purpose, talking points or a file path on the customer page or in the download', async () => {
  await api('PUT', '/v1/settings/business', { name: 'Harbour Bikes', phone: '+61 2 5550 2000' });
  const sold = await sell('Juno');
  await worker.runMaintenance('dispatch');
  await waitFor(() => mailTo('juno@example.com').length > 0 || null, 'the first email');
  // The call a week later becomes a task with its talking points, so they are stored for this customer.
  t.clock.set(new Date('2026-11-06T10:00:00Z'));
  await worker.runMaintenance('dispatch');
  await waitFor(
    async () =>
      (await t.database.db.selectFrom('tasks').select('id').where('customerId', '=', sold.customer.id).execute())
        .length > 0 || null,
    'the call task',
  );
  const token = preferenceToken(sold.customer.id, t.clock.now());
  const page = await t.app.inject({ method: 'GET', url: `/p/${token}` });
  expect(page.statusCode).toBe(200);
  const link = await dataLink(
    t,
    smtp,
    { customerId: sold.customer.id, saleId: '', token, unsubscribe: '', touches: [] },
    'export',
  );
  const download = (await form(t, `/d/${link}`, { confirm: 'yes' })).body;
  const tasks = await t.database.db.selectFrom('tasks').select(['talkingPoints', 'purpose']).execute();
  const internal = [
    ...DEFAULT_PLAN.map((s) => s.purpose),
    ...DEFAULT_PLAN.flatMap((s) => s.talkingPoints ?? []),
    ...tasks.flatMap((x) => [...(x.talkingPoints as string[]), x.purpose ?? '']),
  ].filter((x) => x.length > 8);
  expect(internal.length).toBeGreaterThan(5);
  for (const [what, body] of [
    ['page', page.body],
    ['download', download],
  ]) {
    for (const said of internal)
      expect({ what, said, shown: body.includes(said) }).toEqual({ what, said, shown: false });
    expect({
      what,
      path: /(^|[\s"'])\/(tmp|home|var|work|usr)\/|outbox|\.eml\b|smtpResponse|queued as/.test(body),
    }).toEqual({
      what,
      path: false,
    });
  }
  expect(page.body).toContain('Harbour Bikes');
  // Sam was created by the sale and is pending (issue 12): until an admin confirms him his call goes to the manager.
  expect(page.body).toContain('A call from Mia to check your 3-seat sofa is working out');
});
