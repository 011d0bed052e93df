/**
 * The plan editor over app.inject(): the segments list and a new segment, the editor page (its form round-trips
 * without a new version), validation errors beside the field with nothing written, a saved change as a new plan
 * version, adding and removing steps, each step's preview for a real customer (the email's HTML under its own strict
 * CSP, the letter's PDF, warnings) and a test email arriving at the in-process SMTP server with nothing recorded.
 */
import { createTestApp, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';
import { consoleClient, type ConsoleClient } from '../../helpers/console-client';
import { createStaff } from '../../../src/services/staff.service';
import { createSegment, listPlanVersions, listSegments } from '../../../src/services/segment.service';
import { recordSale } from '../../../src/services/sale.service';
import { templateVariables } from '../../../src/services/plan-editor.service';
import type { SaleInput } from '../../../src/services/sale-input';
import type { Segment } from '../../../src/domain/types';

let t: TestApp;
let smtp: TestSmtpServer;
let manager: ConsoleClient;
let segment: Segment;
let latestCustomer: string;
let ivy: string;
let oak: string;
const NOW = new Date('2026-11-02T10:00:00Z');

function sale(i: number, extra: Partial<SaleInput['customer']> = {}): SaleInput {
  return {
    externalId: `P-${i}`,
    source: 'shop-pos',
    soldAt: new Date(NOW.getTime() - (i + 1) * 86_400_000).toISOString(),
    total: { amount: '80.00', currency: 'AUD' },
    items: [{ name: 'rose bush', category: 'garden', quantity: 1, unitPrice: '80.00' }],
    customer: {
      externalId: `PC-${i}`,
      firstName: `Rose${i}`,
      email: `rose${i}@example.com`,
      timezone: 'UTC',
      ...extra,
    },
    salesperson: { email: 'sam@shop.example', name: 'Sam Shaw' },
  } as SaleInput;
}

const decode = (s: string) =>
  s
    .replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** formOf reads the editor's form out of its page as a browser would submit it (without pressing a named button). */
function formOf(html: string, action: string): [string, string][] {
  const start = html.indexOf(`<form method="post" action="${action}"`);
  expect(start).toBeGreaterThan(-1);
  const form = html.slice(start, html.indexOf('</form>', start));
  const out: [string, string][] = [];
  const attr = (tag: string, name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
  for (const m of form.matchAll(/<(input|textarea|select)\b([^>]*)>/g)) {
    const tag = m[2]!;
    const name = attr(tag, 'name');
    if (!name) continue;
    if (m[1] === 'input') {
      const type = attr(tag, 'type') ?? 'text';
      if (type === 'checkbox' && !/\schecked\b/.test(tag)) continue;
      out.push([name, decode(attr(tag, 'value') ?? '')]);
    } else if (m[1] === 'textarea') {
      const end = form.indexOf('</textarea>', m.index!);
      out.push([name, decode(form.slice(m.index! + m[0].length, end))]);
    } else {
      const end = form.indexOf('</select>', m.index!);
      const options = form.slice(m.index! + m[0].length, end);
      const chosen = /<option value="([^"]*)"[^>]*\sselected/.exec(options) ?? /<option value="([^"]*)"/.exec(options);
      out.push([name, decode(chosen?.[1] ?? '')]);
    }
  }
  return out;
}

const set = (form: [string, string][], name: string, value: string) =>
  form.map(([k, v]) => [k, k === name ? value : v] as [string, string]);

async function postForm(url: string, form: [string, string][]) {
  const body = new URLSearchParams([...form.filter(([k]) => k !== '_csrf'), ['_csrf', manager.csrf!]]).toString();
  return t.app.inject({
    method: 'POST',
    url,
    payload: body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: [...manager.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    },
  });
}

const editorUrl = () => `/console/manager/segments/${segment.id}`;
const current = async () => (await listSegments(t.ctx)).find((s) => s.id === segment.id)!;
const versionCount = async () => (await listPlanVersions(t.ctx, segment.id)).versions.length;
const touchCount = async () =>
  Number(
    (
      await t.database.db
        .selectFrom('touches')
        .select((e) => e.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp('web_plans', NOW, undefined, { smtpUrl: smtp.url });
  const max = await createStaff(t.ctx, { email: 'max@shop.example', name: 'Max Manager', role: 'manager' }, 'test');
  await createStaff(
    t.ctx,
    { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson', managerId: max.id, title: 'Gardener' },
    'test',
  );
  segment = await createSegment(t.ctx, { name: 'garden', priority: 10, match: { categories: ['garden'] } }, 'test');
  const address = { lines: ['1 Garden Lane'], city: 'Sydney', region: 'NSW', postalCode: '2000', country: 'AU' };
  ivy = (await recordSale(t.ctx, sale(9, { firstName: 'Ivy', lastName: 'Green', email: 'ivy@example.com', address })))
    .response.customer.id;
  const long = 'Building C, the long side of the old market hall, next to the clock tower and the second fountain';
  const far = { lines: [long, long, long, long], city: 'Sydney', region: 'NSW', postalCode: '2000', country: 'AU' };
  oak = (await recordSale(t.ctx, sale(8, { firstName: 'Oak', email: 'oak@example.com', address: far }))).response
    .customer.id;
  for (let i = 3; i >= 0; i--) {
    const out = await recordSale(t.ctx, sale(i));
    if (i === 0) latestCustomer = out.response.customer.id;
  }
  manager = consoleClient(t.app);
  await manager.signIn('max@shop.example', smtp);
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

describe('the segments list', () => {
  it('links each segment to its editor and creates a new segment from a name and a priority', async () => {
    const list = await manager.get('/console/manager/segments');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain(`<a href="/console/manager/segments/${segment.id}">garden</a>`);
    expect(list.body).toContain('<label for="new-name">Name</label>');
    const created = await manager.post('/console/manager/segments', { name: 'sofas', priority: '20' });
    expect(created.statusCode).toBe(303);
    const sofas = (await listSegments(t.ctx)).find((s) => s.name === 'sofas')!;
    expect(created.headers.location).toBe(`/console/manager/segments/${sofas.id}?saved=new`);
    expect((await listPlanVersions(t.ctx, sofas.id)).versions.map((v) => v.version)).toEqual([1]);
  });

  it('refuses a missing name or a duplicate one with a 400 naming the field, and writes nothing', async () => {
    const before = (await listSegments(t.ctx)).length;
    await manager.get('/console/manager/segments');
    const blank = await manager.post('/console/manager/segments', { name: '  ', priority: '20' });
    expect(blank.statusCode).toBe(400);
    expect(blank.body).toContain('<a href="#new-name">Name: give the segment a name</a>');
    expect(blank.body).toContain('aria-invalid="true" aria-describedby="new-name-error"');
    const twice = await manager.post('/console/manager/segments', { name: 'garden', priority: '20' });
    expect(twice.statusCode).toBe(400);
    expect(twice.body).toContain('a segment named &#34;garden&#34; already exists');
    const priority = await manager.post('/console/manager/segments', { name: 'pots', priority: 'soon' });
    expect(priority.statusCode).toBe(400);
    expect(priority.body).toContain('Priority: must be a whole number');
    expect((await listSegments(t.ctx)).length).toBe(before);
  });
});

describe('the editor', () => {
  it('shows every part of the segment, its versions, the template variables and previews for its latest customer', async () => {
    const page = await manager.get(editorUrl());
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>Plan: garden</h1>');
    expect(page.body).toContain('value="garden"');
    expect(page.body).toMatch(/id="f-categories" name="categories" value="garden"/);
    expect(page.body).toContain('id="f-day-1" name="days" value="1" checked');
    expect(page.body).toContain('<legend>Step 2: Make sure the customer is happy with the product</legend>');
    expect(page.body).toContain('Has the {{ sale.mainItem }} arrived and is it what you expected?');
    // The variables come from the template checks' own sample, so every one of them is listed.
    const variables = templateVariables();
    expect(variables.map((v) => v.name)).toEqual(expect.arrayContaining(['customer.firstName', 'sender.phone']));
    for (const v of variables) expect(page.body).toContain(v.itemFields ? `<code>${v.name}</code>` : `{{ ${v.name} }}`);
    expect(page.body).toContain('<td>Ann</td>');
    // The versions, and the way to re-plan.
    expect(page.body).toMatch(/<th scope="row">1<\/th><td>[^<]+\(UTC\)<\/td><td>test<\/td>/);
    expect(page.body).toContain(`href="/console/manager/segments/${segment.id}/replan"`);
    // Previews: the most recent customer of the segment by default, their email framed, their letter's PDF.
    expect(page.body).toContain(`<option value="${latestCustomer}" selected>Rose0 (rose0@example.com)</option>`);
    expect(page.body).toContain(
      `<iframe class="email-frame" sandbox src="/console/manager/segments/${segment.id}/steps/1/email?customer=${latestCustomer}"`,
    );
    // Rose0 has no postal address: the page says so rather than show a letter.
    expect(page.body).toContain('This customer has no postal address: no letter can be shown.');
    expect(page.body).toContain('The segment&#39;s content.careTips block is empty: the step reads without it.');
    expect(page.body).not.toContain('/steps/2/email');
  });

  it('finds another customer to preview for, and falls back to the sample customer', async () => {
    const found = await manager.get(`${editorUrl()}?q=Rose2`);
    expect(found.statusCode).toBe(200);
    expect(found.body).toMatch(/<option value="[0-9a-f-]{36}"[^>]*>Rose2 \(rose2@example.com\)<\/option>/);
    const sample = await manager.get(`${editorUrl()}?customer=`);
    expect(sample.body).toContain(`steps/1/letter.pdf?customer=`);
    const bad = await manager.get(`${editorUrl()}?customer=not-a-uuid`);
    expect(bad.statusCode).toBe(400);
  });

  it('saves the page unchanged without a new version', async () => {
    const page = await manager.get(editorUrl());
    const before = await versionCount();
    const saved = await postForm(editorUrl(), formOf(page.body, editorUrl()));
    expect(saved.statusCode).toBe(303);
    expect(saved.headers.location).toContain('saved=same');
    expect(await versionCount()).toBe(before);
  });

  it('shows the default segment without rules (it takes what no other segment does), and round-trips it', async () => {
    const fallback = (await listSegments(t.ctx)).find((s) => s.isDefault)!;
    const url = `/console/manager/segments/${fallback.id}`;
    const page = await manager.get(url);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('This is the default segment');
    expect(page.body).not.toContain('id="f-categories"');
    const saved = await postForm(url, formOf(page.body, url));
    expect(saved.headers.location).toContain('saved=same');
    expect((await listSegments(t.ctx)).find((s) => s.isDefault)!.match).toEqual({});
  });

  it('refuses a wrong template, offset or window with a 400 beside the field, and writes nothing', async () => {
    const page = await manager.get(editorUrl());
    const form = formOf(page.body, editorUrl());
    const before = JSON.stringify(await current());
    const versions = await versionCount();

    const typo = await postForm(editorUrl(), set(form, 's2.body', 'Dear {{ customer.frstName }},\n\nHello.'));
    expect(typo.statusCode).toBe(400);
    expect(typo.body).toContain('<h2 id="error-title">There is a problem: nothing was saved</h2>');
    expect(typo.body).toMatch(/<a href="#s2-body">Step 3, message: undefined variable: customer.frstName[^<]*<\/a>/);
    const subject = await postForm(editorUrl(), set(form, 's3.subject', '{{ sale.mainItm }}'));
    expect(subject.statusCode).toBe(400);
    expect(subject.body).toMatch(/<a href="#s3-subject">Step 4, subject: undefined variable: sale.mainItm/);
    expect(typo.body).toMatch(/<p class="field-error" id="s2-body-error">[^<]*frstName/);
    // The manager's text is kept in the form, to be corrected.
    expect(typo.body).toContain('Dear {{ customer.frstName }},');

    const offset = await postForm(editorUrl(), set(form, 's0.days', 'two'));
    expect(offset.statusCode).toBe(400);
    expect(offset.body).toContain('<a href="#s0-offset">Step 1, days: must be a whole number</a>');

    const none = await postForm(editorUrl(), set(set(set(form, 's0.days', ''), 's0.weeks', ''), 's0.months', '0'));
    expect(none.statusCode).toBe(400);
    expect(none.body).toContain('<a href="#s0-offset">Step 1, when: must be after the sale</a>');

    const window = await postForm(editorUrl(), set(form, 'end', '07:00'));
    expect(window.statusCode).toBe(400);
    expect(window.body).toContain('<a href="#f-end">Until: must be after “From”</a>');

    const noDays = await postForm(
      editorUrl(),
      form.filter(([k]) => k !== 'days'),
    );
    expect(noDays.statusCode).toBe(400);
    expect(noDays.body).toContain('<a href="#f-day-1">Days:');

    const letterWords = await postForm(editorUrl(), set(form, 's0.body', 'Click the link in this email.'));
    expect(letterWords.statusCode).toBe(400);
    expect(letterWords.body).toContain('as a letter it says');

    const total = await postForm(editorUrl(), set(set(form, 'minTotal', '500'), 'maxTotal', '100'));
    expect(total.statusCode).toBe(400);
    expect(total.body).toContain('<a href="#f-maxTotal">Largest total: must not be below “Smallest total”</a>');

    expect(JSON.stringify(await current())).toBe(before);
    expect(await versionCount()).toBe(versions);
  });

  it('saves a changed step as a new plan version, listed with who saved it and what changed', async () => {
    const page = await manager.get(editorUrl());
    const form = set(set(formOf(page.body, editorUrl()), 's2.months', ''), 's2.weeks', '6');
    const was = (await current()).planVersion!;
    const subject = 'Thanks a lot, {{ customer.firstName }} {{ customer.lastName }}';
    const saved = await postForm(editorUrl(), set(form, 's0.subject', subject));
    expect(saved.statusCode).toBe(303);
    expect(saved.headers.location).toBe(`${editorUrl()}?saved=v${was + 1}&customer=${latestCustomer}`);
    const now = await current();
    expect(now.planVersion).toBe(was + 1);
    expect(now.plan.find((s) => s.step === 3)!.offset).toEqual({ weeks: 6 });
    expect(now.plan.find((s) => s.step === 1)!.template!.subject).toBe(subject);
    const after = await manager.get(saved.headers.location as string);
    expect(after.body).toContain(`Saved as plan version ${was + 1}.`);
    expect(after.body).toContain('<span class="muted">Subject:</span> Thanks a lot, Rose0</p>');
    // Rose0 has no last name: the step that now uses it says so.
    expect(after.body).toContain('{{ customer.lastName }} is empty for this customer.');
    expect(after.body).toMatch(
      new RegExp(
        `<th scope="row">${was + 1}</th><td>[^<]+</td><td>Max Manager</td>\\s*<td><ul class="plain">.*step 3 re-timed: 1 month -&gt; 6 weeks after the sale`,
      ),
    );
  });

  it('adds a step without saving it, then saves it; removes a step', async () => {
    const page = await manager.get(editorUrl());
    const versions = await versionCount();
    const added = await postForm(editorUrl(), [...formOf(page.body, editorUrl()), ['add', 'step']]);
    expect(added.statusCode).toBe(200);
    expect(added.body).toContain('<legend>Step 8 (new, not saved)</legend>');
    expect(await versionCount()).toBe(versions);
    let form = formOf(added.body, editorUrl());
    form = set(form, 's7.purpose', 'Ask how the roses wintered');
    form = set(form, 's7.channel', 'call');
    form = set(form, 's7.months', '14');
    form = set(
      form,
      's7.talkingPoints',
      'How did the {{ sale.mainItem }} come through the winter?\nAnything to replace?',
    );
    const saved = await postForm(editorUrl(), form);
    expect(saved.statusCode).toBe(303);
    const step8 = (await current()).plan.find((s) => s.step === 8)!;
    expect(step8).toEqual({
      step: 8,
      offset: { months: 14 },
      channel: 'call',
      assignee: 'salesperson',
      purpose: 'Ask how the roses wintered',
      talkingPoints: ['How did the {{ sale.mainItem }} come through the winter?', 'Anything to replace?'],
    });
    const again = await manager.get(editorUrl());
    const removed = await postForm(editorUrl(), [...formOf(again.body, editorUrl()), ['s7.remove', 'yes']]);
    expect(removed.statusCode).toBe(303);
    expect((await current()).plan.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(await versionCount()).toBe(versions + 2);
  });
});

describe('previews and tests', () => {
  it('serves the email as HTML under a strict CSP of its own, for the chosen customer', async () => {
    const res = await manager.get(`${editorUrl()}/steps/1/email?customer=${latestCustomer}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain('sandbox');
    expect(csp).toContain("frame-ancestors 'self'");
    expect(res.body).toContain('Thanks a lot, Rose0');
    expect(res.body).toContain('Sam Shaw');
    // Not a letter or email step:
    expect((await manager.get(`${editorUrl()}/steps/2/email`)).statusCode).toBe(400);
  });

  it("serves the letter's one page as a PDF, and says when a customer has no postal address", async () => {
    const sample = await manager.get(`${editorUrl()}/steps/1/letter.pdf`);
    expect(sample.statusCode).toBe(200);
    expect(sample.headers['content-type']).toBe('application/pdf');
    expect(sample.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
    expect((sample.rawPayload.toString('latin1').match(/\/Type\s*\/Page\b/g) ?? []).length).toBe(1);
    const hers = await manager.get(`${editorUrl()}/steps/1/letter.pdf?customer=${ivy}`);
    expect(hers.statusCode).toBe(200);
    expect(hers.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
    const page = await manager.get(`${editorUrl()}?customer=${ivy}`);
    expect(page.body).toContain(`steps/1/letter.pdf?customer=${ivy}`);
    expect(page.body).not.toContain('no postal address');
    // Oak's address does not fit the envelope window: every step says so rather than print a letter that fails.
    const oaks = await manager.get(`${editorUrl()}?customer=${oak}`);
    expect(oaks.body).toMatch(
      /As a letter it does not fit its page: the address has \d+ lines; the envelope window holds \d+/,
    );
    const tooLong = await manager.get(`${editorUrl()}/steps/1/letter.pdf?customer=${oak}`);
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.body).toContain('letter: does not fit its page: the address has');
    // The API's preview answers the same 400 naming why, not a 500.
    const api = await t.app.inject({
      method: 'POST',
      url: `/v1/segments/${segment.id}/preview`,
      headers: t.auth(t.adminKey),
      payload: { step: 1, channel: 'letter', customerId: oak },
    });
    expect(api.statusCode).toBe(400);
    expect(api.json().error.message).toMatch(/^letter: does not fit its page: the address has/);
    const none = await manager.get(`${editorUrl()}/steps/1/letter.pdf?customer=${latestCustomer}`);
    expect(none.statusCode).toBe(400);
    expect(none.body).toContain('no postal address');
  });

  it('sends a test of the email to the signed-in manager, marked as a test, recording nothing', async () => {
    const page = await manager.get(`${editorUrl()}?customer=${latestCustomer}`);
    const touches = await touchCount();
    const before = smtp.messages.length;
    const sent = await postForm(`${editorUrl()}/steps/1/test`, formOf(page.body, editorUrl()));
    expect(sent.statusCode).toBe(200);
    expect(sent.body).toContain('Test sent to max@shop.example.');
    const [message] = (await smtp.waitForMessages(before + 1)).slice(before);
    expect(message!.envelope.to).toEqual(['max@shop.example']);
    expect(message!.subject).toBe('[Test] Thanks a lot, Rose0');
    expect(message!.headers.get('x-rapport-test')).toBe('yes');
    expect(message!.headers.get('list-unsubscribe')).toBeUndefined();
    expect(message!.text).toContain('Dear Rose0,');
    expect(await touchCount()).toBe(touches);
  });

  it('previews and test-sends the form as it stands, before it is saved, and saves nothing', async () => {
    const page = await manager.get(`${editorUrl()}?customer=${latestCustomer}`);
    const before = JSON.stringify(await current());
    const versions = await versionCount();
    const draft = set(
      set(formOf(page.body, editorUrl()), 's0.subject', 'Not saved yet, {{ customer.firstName }}'),
      's0.body',
      'Dear {{ customer.firstName }},\n\nA draft line about your {{ sale.mainItem }}.',
    );
    const previewed = await postForm(editorUrl(), [...draft, ['preview', 'draft']]);
    expect(previewed.statusCode).toBe(200);
    expect(previewed.body).toContain('The previews show the plan as this form has it, <strong>not saved</strong>');
    expect(previewed.body).toContain('<span class="muted">Subject:</span> Not saved yet, Rose0</p>');
    expect(previewed.body).toContain('A draft line about your rose bush.');
    expect(previewed.body).toContain('Not saved yet, {{ customer.firstName }}');

    const mail = smtp.messages.length;
    const tested = await postForm(`${editorUrl()}/steps/1/test`, draft);
    expect(tested.statusCode).toBe(200);
    const [message] = (await smtp.waitForMessages(mail + 1)).slice(mail);
    expect(message!.subject).toBe('[Test] Not saved yet, Rose0');
    expect(message!.text).toContain('A draft line about your rose bush.');

    const wrong = await postForm(editorUrl(), [...set(draft, 's0.body', '{{ sale.mainItm }}'), ['preview', 'draft']]);
    expect(wrong.statusCode).toBe(400);
    expect(wrong.body).toContain('<a href="#s0-body">Step 1, message: undefined variable: sale.mainItm');
    const wrongTest = await postForm(`${editorUrl()}/steps/1/test`, set(draft, 's0.body', '{{ sale.mainItm }}'));
    expect(wrongTest.statusCode).toBe(400);
    expect(smtp.messages.length).toBe(mail + 1);

    expect(JSON.stringify(await current())).toBe(before);
    expect(await versionCount()).toBe(versions);
  });

  it('says so when the mail server refuses the test, and records nothing', async () => {
    const page = await manager.get(editorUrl());
    smtp.respondWith((e) => (e.stage === 'rcpt' ? { code: 550, message: 'no such mailbox' } : null));
    try {
      const refused = await postForm(`${editorUrl()}/steps/1/test`, formOf(page.body, editorUrl()));
      expect(refused.statusCode).toBe(503);
      expect(refused.body).toContain('the test email was not sent');
      expect(refused.body).toContain('no such mailbox');
    } finally {
      smtp.respondWith(null);
    }
  });

  it('gives a salesperson the not-found page for the editor and its previews', async () => {
    await createStaff(t.ctx, { email: 'sal@shop.example', name: 'Sal Seller', role: 'salesperson' }, 'test');
    const sal = consoleClient(t.app);
    await sal.signIn('sal@shop.example', smtp);
    expect((await sal.get(editorUrl())).statusCode).toBe(404);
    expect((await sal.get(`${editorUrl()}/steps/1/email`)).statusCode).toBe(404);
    expect((await sal.post(`${editorUrl()}/steps/1/test`, {})).statusCode).toBe(404);
  });
});
