import { createTestApp, type TestApp } from '../../helpers/app';
import { startSmtpServer, type TestSmtpServer } from '../../helpers/smtp';
import { consoleClient, linkIn } from '../../helpers/console-client';
import { waitFor } from '../../helpers/wait';
import { assetUrl } from '../../../src/web/views';
import { createStaff, updateStaff } from '../../../src/services/staff.service';
import { SESSION_IDLE_MS } from '../../../src/services/session.service';

let t: TestApp;
let smtp: TestSmtpServer;

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp('web_sign_in', new Date('2026-11-02T10:00:00Z'), undefined, { smtpUrl: smtp.url });
  await createStaff(t.ctx, { email: 'sam@shop.example', name: 'Sam Shaw', role: 'salesperson' }, 'test');
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

describe('signing in to the console', () => {
  it('redirects / and /console to the sign-in page when nobody is signed in', async () => {
    const root = await t.app.inject({ url: '/' });
    expect(root.statusCode).toBe(302);
    expect(root.headers.location).toBe('/console');
    const c = consoleClient(t.app);
    const res = await c.get('/console/today');
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/console/sign-in?next=%2Fconsole%2Ftoday');
  });

  it('emails a single-use link whose GET shows a button and whose POST alone signs in', async () => {
    const c = consoleClient(t.app);
    const page = await c.get('/console/sign-in');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('<label for="email">Work email</label>');
    const link = await c.signIn('sam@shop.example', smtp);
    const session = [...c.cookies.keys()].find((k) => k === 'rapport_session');
    expect(session).toBeDefined();
    const today = await c.get('/console/today');
    expect(today.statusCode).toBe(200);
    expect(today.body).toContain('Sam Shaw');
    // Used once: a second browser gets "no longer works", even with a valid form.
    const other = consoleClient(t.app);
    const path = new URL(link).pathname;
    const again = await other.get(path);
    expect(again.statusCode).toBe(410);
  });

  it('lets GETs of the link (a mail scanner) leave it usable', async () => {
    const c = consoleClient(t.app);
    await c.get('/console/sign-in');
    await c.post('/console/sign-in', { email: 'Sam@Shop.example' });
    const message = await waitFor(
      () => smtp.messages.find((m) => m.subject?.includes('sign-in') && m !== smtp.messages[0]),
      'a second link',
    );
    const path = new URL(linkIn(message.text ?? '')).pathname;
    const scanner = consoleClient(t.app);
    expect((await scanner.get(path)).statusCode).toBe(200);
    expect((await scanner.get(path)).statusCode).toBe(200);
    const shown = await c.get(path);
    expect(shown.body).toContain('Sign in as Sam Shaw');
    expect(shown.headers['referrer-policy']).toBe('no-referrer');
    expect((await c.post(path)).headers.location).toBe('/console/today');
  });

  it('serves htmx and the stylesheet from a content-hashed URL with a year of immutable cache', async () => {
    for (const name of ['htmx.min.js', 'console.css', 'console.js']) {
      const res = await t.app.inject({ url: assetUrl(name) });
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
    expect((await t.app.inject({ url: assetUrl('htmx.js') })).statusCode).toBe(404);
  });

  it('answers an unknown address exactly like a known one, and sends nothing', async () => {
    const before = smtp.messages.length;
    const c = consoleClient(t.app);
    await c.get('/console/sign-in');
    const res = await c.post('/console/sign-in', { email: 'nobody@shop.example' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toContain('sent=1');
    expect(smtp.messages.length).toBe(before);
  });

  it('refuses a form posted without its CSRF token', async () => {
    const c = consoleClient(t.app);
    await c.get('/console/sign-in');
    const res = await c.post('/console/sign-in', { email: 'sam@shop.example' }, null);
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('This form has expired');
  });

  it('names the field when the address is not an email', async () => {
    const c = consoleClient(t.app);
    await c.get('/console/sign-in');
    const res = await c.post('/console/sign-in', { email: 'sam' });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('aria-invalid="true"');
  });

  it('ends a session after 12 idle hours, on sign-out, and everywhere when the person is deactivated', async () => {
    const c = consoleClient(t.app);
    await c.signIn('sam@shop.example', smtp);
    t.clock.advance(SESSION_IDLE_MS + 60_000);
    expect((await c.get('/console/today')).statusCode).toBe(303);

    await c.signIn('sam@shop.example', smtp);
    await c.get('/console/today');
    expect((await c.post('/console/sign-out')).statusCode).toBe(303);
    expect((await c.get('/console/today')).statusCode).toBe(303);

    const a = consoleClient(t.app);
    await a.signIn('sam@shop.example', smtp);
    expect((await a.get('/console/today')).statusCode).toBe(200);
    const sam = (
      await t.ctx.db.selectFrom('staff').select('id').where('email', '=', 'sam@shop.example').executeTakeFirstOrThrow()
    ).id;
    await updateStaff(t.ctx, sam, { active: false }, 'test');
    expect((await a.get('/console/today')).statusCode).toBe(303);
  });
});
