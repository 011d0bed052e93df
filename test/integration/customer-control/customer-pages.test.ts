/**
 * The customer's pages through real HTTP, with the real worker runtime and SMTP server: forged links change
 * nothing, one-click unsubscribe stops the next email and newsletter, "do not contact" cancels calls on staff lists,
 * corrections re-route future letters and emails, and the export holds everything held.
 */
import { signCustomerLink } from '../../../src/services/customer-link';
import { preferenceToken } from '../../helpers/links';
import { updateCustomer } from '../../../src/db/repositories/customer.repository';
import { type TestApp } from '../../helpers/app';
import { type TestSmtpServer } from '../../helpers/smtp';
import { type TestWorker } from '../../helpers/worker';
import { waitFor } from '../../helpers/wait';
import { addNewsletterTouch, auditOf, dataLink, form, sell, snapshot, touchesOf } from './helpers';
import { closeTestStack, startTestStack } from '../../helpers/stack';

// Monday 10:00 UTC, inside the default send window; sales made on 29 October have their first email due now.
const NOW = new Date('2026-11-02T10:00:00Z');
const HOUR = 3600_000;
const DAY = 24 * HOUR;

let t: TestApp;
let smtp: TestSmtpServer;
let worker: TestWorker;

beforeAll(async () => {
  ({ t, smtp, worker } = await startTestStack('custpages', NOW));
});
afterAll(async () => {
  await closeTestStack({ t, smtp, worker });
});

const emailOnly = (tag: string) => ({
  firstName: tag,
  email: `${tag.toLowerCase()}@example.com`,
  phone: undefined,
  address: undefined,
  preferredChannel: undefined,
});
const mailedTo = (address: string) => smtp.messages.filter((m) => m.envelope.to.includes(address));

describe('links', () => {
  it('refuses a forged, altered or malformed token with 404 on every page and changes nothing', async () => {
    const victim = await sell(t, { firstName: 'Fern', email: 'fern@example.com', phone: '+1 555 0101' });
    const other = await sell(t, { firstName: 'Olly', email: 'olly@example.com', phone: '+1 555 0102' });
    const parts = victim.token.split('.');
    const [, , , id, , , mac] = parts;
    const withPart = (i: number, v: string) => parts.map((p, j) => (j === i ? v : p)).join('.');
    const claims = {
      customerId: id,
      purpose: 'preferences' as const,
      version: 1,
      expiresAt: new Date(NOW.getTime() + 90 * DAY),
    };
    const forged = [
      withPart(6, `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`), // one character of the signature changed
      withPart(3, other.customerId), // another customer's id under this signature
      withPart(4, '2'), // another link version
      withPart(5, (Math.floor(NOW.getTime() / 1000) + 400 * 86400).toString(36)), // a later expiry
      signCustomerLink({ secret: 'another-secret-0123456789abcdef012345' }, claims), // signed with a key not ours
      signCustomerLink(
        { secret: 'test-secret-0123456789abcdef0123456789' },
        { ...claims, expiresAt: new Date(NOW.getTime() - DAY) },
      ), // expired
      withPart(0, 'r2'),
      victim.token.slice(0, -4),
      id,
      'garbage',
    ];
    const before = [await snapshot(t, victim.customerId), await snapshot(t, other.customerId)];
    for (const token of forged) {
      const p = `/p/${encodeURIComponent(token)}`;
      const answers: [string, Awaited<ReturnType<typeof form>>][] = [
        ['GET page', await t.app.inject({ method: 'GET', url: p })],
        ['POST request', await form(t, `${p}/request`, { what: 'export' })],
        ['GET data link', await t.app.inject({ method: 'GET', url: `/d/${encodeURIComponent(token)}` })],
        ['POST data link', await form(t, `/d/${encodeURIComponent(token)}`, { confirm: 'yes' })],
        ['POST contact', await form(t, `${p}/contact`, { email: 'evil@example.com', firstName: 'Mallory' })],
        ['POST preferences', await form(t, `${p}/preferences`, { form: 'preferences' })],
        ['GET unsubscribe', await t.app.inject({ method: 'GET', url: `/u/${encodeURIComponent(token)}` })],
        ['POST unsubscribe', await form(t, `/u/${encodeURIComponent(token)}`, 'List-Unsubscribe=One-Click')],
      ];
      for (const [what, res] of answers) {
        expect({ token, what, status: res.statusCode }).toEqual({ token, what, status: 404 });
        expect(res.body).toContain('This link is not valid');
        expect(res.body).not.toContain('fern@example.com');
      }
    }
    expect([await snapshot(t, victim.customerId), await snapshot(t, other.customerId)]).toEqual(before);
  });

  it('shows the data held, escaped, on a private page that works without scripts', async () => {
    const c = await sell(t, {
      firstName: '<b>Zed</b>',
      lastName: "O'Hara & Co",
      email: 'page@example.com',
      phone: '+1 555 0103',
      address: { lines: ['9 Elm Rd'], city: 'Hobart', region: 'TAS', postalCode: '7000', country: 'AU' },
    });
    const res = await t.app.inject({ method: 'GET', url: `/p/${c.token}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['set-cookie']).toBeUndefined();
    const code = (await snapshot(t, c.customerId)).customer.referralCode;
    for (const shown of [
      '&lt;b&gt;Zed&lt;/b&gt;',
      'O&#39;Hara &amp; Co',
      'page@example.com',
      '+1 555 0103',
      '9 Elm Rd',
      'Hobart',
      code,
      '3-seat sofa',
      'A$1,299.00',
    ]) {
      expect(res.body).toContain(shown);
    }
    expect(res.body).not.toContain('<b>Zed');
    expect(res.body).not.toMatch(/<script/i);
    // Upcoming contacts: in words for the customer, never the step's internal purpose.
    expect(res.body).toContain('A note from Sam, a month after your purchase');
    expect(res.body).not.toContain('Getting the most out of the purchase');
    for (const action of ['contact', 'preferences', 'request'])
      expect(res.body).toContain(`action="/p/${c.token}/${action}"`);
  });
});

describe('one-click unsubscribe', () => {
  it('stops the next email and newsletter: the touches are cancelled and the worker sends nothing', async () => {
    const leaving = await sell(t, emailOnly('Una'));
    await sell(t, emailOnly('Stan'));
    const newsletter = await addNewsletterTouch(t, leaving.customerId, new Date(NOW.getTime() + HOUR));
    const firstEmail = leaving.touches.find((x) => x.step === 1)!;
    expect(firstEmail).toMatchObject({ channel: 'email', status: 'scheduled' });
    expect(new Date(firstEmail.dueAt).getTime()).toBeLessThanOrEqual(NOW.getTime());

    // A GET (a mail client or link scanner) only shows the confirm button.
    const page = await t.app.inject({ method: 'GET', url: `/u/${leaving.unsubscribe}` });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(`action="/u/${leaving.unsubscribe}"`);
    // An unsubscribe link only unsubscribes: it opens no other page, and a preference link does not unsubscribe.
    expect((await t.app.inject({ method: 'GET', url: `/p/${leaving.unsubscribe}` })).statusCode).toBe(404);
    expect((await form(t, `/u/${leaving.token}`, 'List-Unsubscribe=One-Click')).statusCode).toBe(404);
    expect((await snapshot(t, leaving.customerId)).customer.emailOptOut).toBe(false);

    const res = await form(t, `/u/${leaving.unsubscribe}`, 'List-Unsubscribe=One-Click');
    expect(res.statusCode).toBe(200);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.body).toContain('You are unsubscribed');

    const { customer } = await snapshot(t, leaving.customerId);
    expect(customer).toMatchObject({ emailOptOut: true, newsletterOptOut: true, doNotContact: false });
    const touches = await touchesOf(t, leaving.customerId);
    for (const x of touches.filter((x) => x.channel === 'email' || x.channel === 'newsletter')) {
      expect(x).toMatchObject({ status: 'cancelled', statusReason: 'email_opt_out' });
    }
    expect(touches.find((x) => x.id === newsletter)?.status).toBe('cancelled');
    // Calls are not email: they stay planned.
    expect(touches.filter((x) => x.channel === 'call').map((x) => x.status)).toEqual(['scheduled', 'scheduled']);
    expect((await auditOf(t, leaving.customerId)).map((a) => [a.actor, a.action])).toContainEqual([
      'customer',
      'customer.opt_out.email',
    ]);

    // The scheduler and the email worker run: the customer who stayed gets their email, the one who left nothing.
    await worker.runMaintenance('dispatch');
    await waitFor(() => mailedTo('stan@example.com').length === 1 || null, 'the staying customer mailed');
    expect(mailedTo('una@example.com')).toHaveLength(0);
    expect((await touchesOf(t, leaving.customerId)).find((x) => x.step === 1)?.status).toBe('cancelled');

    // Unsubscribing again is harmless and records nothing new.
    const auditBefore = (await auditOf(t, leaving.customerId)).length;
    expect((await form(t, `/u/${leaving.unsubscribe}`, 'List-Unsubscribe=One-Click')).statusCode).toBe(200);
    expect(await auditOf(t, leaving.customerId)).toHaveLength(auditBefore);
  });

  it('turns future emails into letters for a customer with a postal address, and accepts a multipart body', async () => {
    const c = await sell(t, {
      firstName: 'Lena',
      email: 'lena@example.com',
      phone: undefined,
      preferredChannel: 'email',
    });
    const boundary = 'rapportboundary';
    const res = await t.app.inject({
      method: 'POST',
      url: `/u/${c.unsubscribe}`,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`,
    });
    expect(res.statusCode).toBe(200);
    const mail = (await touchesOf(t, c.customerId)).filter((x) => x.channel !== 'call');
    expect(mail).toHaveLength(5);
    for (const x of mail)
      expect(x).toMatchObject({
        channel: 'letter',
        status: 'scheduled',
        statusReason: 'rerouted_letter:email_opt_out',
      });
  });
});

describe('do not contact', () => {
  it('cancels every future contact, including a call already on the salesperson list', async () => {
    // Sold 7 days and an hour ago: the thank-you email and the 7-day call are both due now.
    const c = await sell(
      t,
      { firstName: 'Dora', email: 'dora@example.com', phone: '+1 555 0104' },
      { soldAt: new Date(NOW.getTime() - 7 * DAY - HOUR).toISOString() },
    );
    const call = c.touches.find((x) => x.step === 2)!;
    await worker.runMaintenance('dispatch');
    await waitFor(
      async () => (await touchesOf(t, c.customerId)).find((x) => x.id === call.id)?.status === 'sent' || null,
      'the call task opened',
    );
    await waitFor(() => mailedTo('dora@example.com').length === 1 || null, 'the first email sent');
    const [task] = (await snapshot(t, c.customerId)).tasks;
    expect(task.status).toBe('open');

    // The preference form with "contact me at all" unticked (unticked boxes are not sent).
    const res = await form(t, `/p/${c.token}/preferences`, { form: 'preferences', email: 'yes', newsletters: 'yes' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/p/${c.token}?m=preferences`);

    const after = await snapshot(t, c.customerId);
    expect(after.customer.doNotContact).toBe(true);
    expect(after.tasks.map((x) => x.status)).toEqual(['cancelled']);
    const touches = await touchesOf(t, c.customerId);
    expect(touches.find((x) => x.id === call.id)).toMatchObject({
      status: 'cancelled',
      statusReason: 'do_not_contact',
    });
    expect(touches.find((x) => x.step === 1)?.status).toBe('sent'); // what was already sent stays in the history
    expect(touches.filter((x) => x.step > 2).map((x) => x.status)).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
    expect((await auditOf(t, c.customerId)).map((a) => a.action)).toContain('customer.opt_out.all');

    const page = await t.app.inject({ method: 'GET', url: res.headers.location as string });
    expect(page.body).toContain('Your preferences are saved');
    expect(page.body).toContain('no: do not contact me');
  });
});

describe('contact corrections', () => {
  it('names the bad field with 400 and stores nothing', async () => {
    const c = await sell(t, { firstName: 'Bea', email: 'bea@example.com', phone: '+1 555 0105' });
    const before = await snapshot(t, c.customerId);
    const bad = await form(t, `/p/${c.token}/contact`, { email: 'not-an-address', firstName: 'Beatrix' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('email: is not a valid email address');
    const noCountry = await form(t, `/p/${c.token}/contact`, { addressLines: '5 Oak Ave', city: 'Perth', country: '' });
    expect(noCountry.statusCode).toBe(400);
    expect(noCountry.body).toContain('country: must be a two-letter country code');
    const unknownField = await form(t, `/p/${c.token}/contact`, { favouriteColour: 'blue' });
    expect(unknownField.statusCode).toBe(400);
    expect(await snapshot(t, c.customerId)).toEqual(before);
  });

  it('sets the waiting letters of a customer without an address to letters, then switches them to email, clearing the flags', async () => {
    const c = await sell(t, {
      firstName: 'Kit',
      email: undefined,
      phone: '+1 555 0106',
      address: undefined,
      preferredChannel: undefined,
    });
    expect((await snapshot(t, c.customerId)).customer.needsCleanup).toBe(true);
    const future = (await touchesOf(t, c.customerId)).filter((x) => x.channel !== 'call' && x.dueAt > NOW);
    expect(future.length).toBeGreaterThan(0);
    // Planned all the same (issue 12): whether a letter or an email goes is decided when each falls due.
    for (const x of future) expect(x).toMatchObject({ status: 'scheduled' });

    const res = await form(t, `/p/${c.token}/contact`, {
      firstName: 'Kit',
      addressLines: '5 Oak Ave\r\nUnit 2',
      city: 'Perth',
      region: 'WA',
      postalCode: '6000',
      country: 'au',
      preferredChannel: 'letter',
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/p/${c.token}?m=contact`);
    let customer = (await snapshot(t, c.customerId)).customer;
    expect(customer).toMatchObject({ needsCleanup: false, preferredChannel: 'letter' });
    expect(customer.address).toEqual({
      lines: ['5 Oak Ave', 'Unit 2'],
      city: 'Perth',
      region: 'WA',
      postalCode: '6000',
      country: 'AU',
    });
    for (const x of (await touchesOf(t, c.customerId)).filter((x) => future.some((f) => f.id === x.id))) {
      expect(x).toMatchObject({ channel: 'letter', status: 'scheduled' });
    }

    // A new email address that had bounced before, and a switch to email.
    await updateCustomer(t.database.db, c.customerId, { email: 'old-kit@example.com', emailStatus: 'bounced' });
    // A new email address voids the links given out before: the customer's link of now carries version 2.
    expect((await form(t, `/p/${c.token}/contact`, { email: 'kit@example.com' })).statusCode).toBe(404);
    const fresh = preferenceToken(c.customerId, NOW, 2);
    const again = await form(t, `/p/${fresh}/contact`, { email: 'kit@example.com', preferredChannel: 'email' });
    expect(again.statusCode).toBe(303);
    customer = (await snapshot(t, c.customerId)).customer;
    expect(customer).toMatchObject({ email: 'kit@example.com', emailStatus: 'ok', preferredChannel: 'email' });
    for (const x of (await touchesOf(t, c.customerId)).filter((x) => future.some((f) => f.id === x.id))) {
      expect(x).toMatchObject({ channel: 'email', status: 'scheduled' });
    }
    // The audit names what changed, never the values.
    const corrections = (await auditOf(t, c.customerId)).filter((a) => a.action === 'customer.contact_corrected');
    expect(corrections).toHaveLength(2);
    expect((corrections[1].detail as { fields: string[] }).fields.sort()).toEqual(['email', 'preferredChannel']);
    expect(JSON.stringify(corrections)).not.toMatch(/kit@example\.com|Oak Ave/);
  });

  it('finds the customer by the email they corrected away when a till knows them by nothing else', async () => {
    const c = await sell(t, { externalId: undefined, firstName: 'Mo', email: 'mo.old@example.com', phone: undefined });
    expect((await form(t, `/p/${c.token}/contact`, { email: 'mo@example.com' })).statusCode).toBe(303);
    // The till has no customer id and still the old address: the same customer, their corrected address kept.
    const again = await sell(t, {
      externalId: undefined,
      firstName: 'Mo',
      email: 'MO.OLD@example.com',
      phone: undefined,
    });
    expect(again.customerId).toBe(c.customerId);
    expect((await snapshot(t, c.customerId)).customer.email).toBe('mo@example.com');
    const named = await t.database.db.selectFrom('customers').select('id').where('firstName', '=', 'Mo').execute();
    expect(named).toHaveLength(1);
  });

  it('outranks the old details a till sends again with the next sale; new details from the till win', async () => {
    const customer = {
      externalId: `CC-KEEP-${Date.now()}`,
      firstName: 'Lou',
      email: 'lou.old@example.com',
      phone: '+1 555 0107',
    };
    const c = await sell(t, customer);
    const fixed = await form(t, `/p/${c.token}/contact`, { email: 'lou@example.com', firstName: 'Louise' });
    expect(fixed.statusCode).toBe(303);
    // The new address voided the old link; the page goes on under a fresh one.
    const token = /^\/p\/([^?]+)/.exec(fixed.headers.location as string)![1];
    expect(token).not.toBe(c.token);
    expect((await t.app.inject({ method: 'GET', url: `/p/${c.token}` })).statusCode).toBe(404);

    // The export names the corrected fields; the values they replaced are not held in any readable form.
    const link = await dataLink(t, smtp, { ...c, token }, 'export');
    const exported = (await form(t, `/d/${link}`, { confirm: 'yes' })).json().you;
    expect(exported.correctedFields.sort()).toEqual(['email', 'firstName']);
    expect(exported.contactCorrections).toBeUndefined();
    const stored = await t.database.db
      .selectFrom('customers')
      .select('contactCorrections')
      .where('id', '=', c.customerId)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(stored)).not.toMatch(/lou\.old|Lou"/);

    // The till still knows the old email and first name: the customer's corrections stand.
    await sell(t, customer);
    expect((await snapshot(t, c.customerId)).customer).toMatchObject({
      email: 'lou@example.com',
      firstName: 'Louise',
      phone: '+1 555 0107',
    });

    // The till learns a newer address: that is news, and it wins (the phone, never corrected, simply follows the till);
    // the first name stays corrected.
    await sell(t, { ...customer, email: 'LOU@work.example', phone: '+1 555 0108' });
    expect((await snapshot(t, c.customerId)).customer).toMatchObject({
      email: 'LOU@work.example',
      firstName: 'Louise',
      phone: '+1 555 0108',
    });
    // From then on the till's email is the one on record: sending it again changes nothing, a later one wins again.
    await sell(t, { ...customer, email: 'LOU@work.example' });
    expect((await snapshot(t, c.customerId)).customer.email).toBe('LOU@work.example');
  });
});

describe('export', () => {
  it('returns everything held about the customer as a JSON download', async () => {
    const c = await sell(t, { firstName: 'Eve', email: 'eve@example.com', phone: '+1 555 0199' });
    await worker.runMaintenance('dispatch');
    await waitFor(() => mailedTo('eve@example.com').length === 1 || null, 'the first email sent');
    await waitFor(
      async () => (await touchesOf(t, c.customerId)).find((x) => x.step === 1)?.status === 'sent' || null,
      'the email recorded',
    );
    const note = await t.app.inject({
      method: 'POST',
      url: `/v1/customers/${c.customerId}/notes`,
      headers: t.auth(t.adminKey),
      payload: { body: 'Eve prefers mornings' },
    });
    expect(note.statusCode).toBe(201);
    await form(t, `/p/${c.token}/preferences`, { form: 'preferences', email: 'yes', contact: 'yes' }); // newsletters off

    // The page only asks for a link; it goes to the address on record, works once, for 30 minutes.
    const link = await dataLink(t, smtp, c, 'export');
    const button = await t.app.inject({ method: 'GET', url: `/d/${link}` });
    expect(button.statusCode).toBe(200);
    expect(button.body).toContain(`action="/d/${link}"`);
    const res = await form(t, `/d/${link}`, { confirm: 'yes' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['content-disposition']).toBe('attachment; filename="my-data.json"');
    expect((await form(t, `/d/${link}`, { confirm: 'yes' })).statusCode).toBe(404); // used once
    const data = res.json();
    const held = await snapshot(t, c.customerId);
    expect(data.from).toMatchObject({ name: 'Test Shop', phone: '+61 2 5550 1000' });
    expect(data.you).toMatchObject({
      firstName: 'Eve',
      email: 'eve@example.com',
      phone: '+1 555 0199',
      address: { lines: ['1 Main St'], country: 'AU' },
      referralCode: held.customer.referralCode,
      newsletters: false,
      emails: true,
    });
    expect(data.purchases).toHaveLength(held.sales.length);
    expect(data.purchases[0].items[0]).toMatchObject({ name: '3-seat sofa', quantity: 1 });
    const sent = data.sentToYou.find((x: { subject: string }) => x.subject === 'Thank you, Eve');
    expect(sent).toMatchObject({ how: 'Email', signedBy: 'Sam Shaw' });
    expect(sent.text).toContain('Dear Eve,');
    expect(data.coming.length).toBeGreaterThan(0);
    expect(data.notesAboutYou.map((n: { text: string }) => n.text)).toEqual(['Eve prefers mornings']);
    expect(data.yourChanges.map((a: { what: string }) => a.what)).toContain('You turned off our newsletter');
    // Nothing internal: no delivery reasons, server paths, step purposes or talking points.
    const all = JSON.stringify(data);
    expect(all).not.toMatch(/smtpResponse|statusReason|purpose|talkingPoints|\/tmp\/|outbox|queued as/);
  });

  it('answers 30 minutes after it was sent, and never twice, with 404', async () => {
    const c = await sell(t, { firstName: 'Otto', email: 'otto@example.com', phone: undefined });
    const link = await dataLink(t, smtp, c, 'export');
    const later = new Date(NOW.getTime() + 31 * 60_000);
    t.clock.set(later);
    try {
      expect((await t.app.inject({ method: 'GET', url: `/d/${link}` })).statusCode).toBe(404);
      expect((await form(t, `/d/${link}`, { confirm: 'yes' })).statusCode).toBe(404);
    } finally {
      t.clock.set(NOW);
    }
  });
});
