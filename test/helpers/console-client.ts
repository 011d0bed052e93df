/**
 * A cookie-keeping client for the staff console over app.inject(): it reads forms' CSRF tokens from the pages it
 * gets, and can sign a staff member in through the emailed link, the way a browser does.
 *
 *   const c = consoleClient(t.app);
 *   await c.signIn('sam@shop.example', smtp);   // asks for a link, reads the email, presses "Sign in"
 *   const page = await c.get('/console/today');
 *   await c.post('/console/tasks/ID/outcome', { outcome: 'reached' });  // the last page's CSRF token is added
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { TestSmtpServer } from './smtp';
import { waitFor } from './wait';

/** ConsoleClient is one browser's worth of cookies against a test app. */
export interface ConsoleClient {
  cookies: Map<string, string>;
  /** The CSRF token of the last page that had a form. */
  csrf: string | null;
  get(url: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** post sends a form; `_csrf` is the last page's token unless given (null: none at all). */
  post(url: string, form?: Record<string, string>, csrf?: string | null): Promise<LightMyRequestResponse>;
  /** signIn asks for a link for `email`, takes it from the email `smtp` received and uses it; returns the link. */
  signIn(email: string, smtp: TestSmtpServer): Promise<string>;
}

/** linkIn returns the console sign-in link in an email's text. */
export function linkIn(text: string): string {
  const m = /(https?:\/\/\S+\/console\/sign-in\/[A-Za-z0-9_-]+)/.exec(text);
  if (!m) throw new Error(`no sign-in link in: ${text}`);
  return m[1]!;
}

/** consoleClient makes a client with an empty cookie jar. */
export function consoleClient(app: FastifyInstance): ConsoleClient {
  const cookies = new Map<string, string>();
  const client: ConsoleClient = {
    cookies,
    csrf: null,
    async get(url, headers = {}) {
      const res = await app.inject({ method: 'GET', url, headers: { ...headers, cookie: jar() } });
      keep(res);
      return res;
    },
    async post(url, form = {}, csrf) {
      const token = csrf === undefined ? client.csrf : csrf;
      const body = new URLSearchParams({ ...form, ...(token ? { _csrf: token } : {}) }).toString();
      const res = await app.inject({
        method: 'POST',
        url,
        payload: body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar() },
      });
      keep(res);
      return res;
    },
    async signIn(email, smtp) {
      const before = smtp.messages.length;
      await client.get('/console/sign-in');
      const asked = await client.post('/console/sign-in', { email });
      if (asked.statusCode !== 303) throw new Error(`sign-in request answered ${asked.statusCode}: ${asked.body}`);
      const message = await waitFor(
        () => smtp.messages.slice(before).find((m) => m.envelope.to.includes(email)),
        `a sign-in email to ${email}`,
      );
      const link = linkIn(message.text ?? '');
      const path = new URL(link).pathname;
      await client.get(path);
      const used = await client.post(path);
      if (used.statusCode !== 303) throw new Error(`sign-in link answered ${used.statusCode}: ${used.body}`);
      return link;
    },
  };
  function jar(): string {
    return [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  function keep(res: LightMyRequestResponse): void {
    for (const c of res.cookies) {
      if (c.value === '' || (c.expires && c.expires.getTime() < Date.now())) cookies.delete(c.name);
      else cookies.set(c.name, c.value);
    }
    const m = /name="_csrf" value="([^"]+)"/.exec(res.body);
    if (m) client.csrf = m[1]!;
  }
  return client;
}

/** signedIn returns one client per address, each signed in through its emailed link. */
export async function signedIn(
  app: FastifyInstance,
  smtp: TestSmtpServer,
  ...emails: string[]
): Promise<ConsoleClient[]> {
  const clients: ConsoleClient[] = [];
  for (const email of emails) {
    const c = consoleClient(app);
    await c.signIn(email, smtp);
    clients.push(c);
  }
  return clients;
}
