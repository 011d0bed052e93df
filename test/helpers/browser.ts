/**
 * Browser tests: real Chromium (Debian's /usr/bin/chromium) driven by playwright-core against the real server
 * listening on a free port. Shared by every console flow:
 *
 *   const s = await startTestStack('my_flow', MONDAY);       // API + SMTP + workers (test/helpers/stack.ts)
 *   const web = await openBrowser(s.t);                      // listens, launches Chromium headless
 *   const page = await web.newPage();
 *   await web.signIn(page, 'sam@shop.example', s.smtp);      // asks for a link, opens the email's link, presses Sign in
 *   await page.goto(web.url('/console/today'));
 *   await expectAccessible(page);                            // axe-core: no serious or critical violation
 *   await web.close();                                       // before closeTestStack
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { TestApp } from './app';
import type { TestSmtpServer } from './smtp';
import { waitFor } from './wait';

/** CHROMIUM is the browser the tests drive (.ci/run installs Debian's chromium when it is missing). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** CHROMIUM_ARGS run Chromium quietly in a container: no sandbox, no GPU, nothing fetched in the background. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** launchChromium starts a headless Chromium. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** TestBrowser is a browser pointed at a listening test app. */
export interface TestBrowser {
  browser: Browser;
  baseUrl: string;
  /** url turns a path (or a link from an email, whose host is PUBLIC_URL's) into this server's URL. */
  url(pathOrLink: string): string;
  /** newPage opens a page in a fresh context (its own cookies: another person's browser). */
  newPage(opts?: { javaScript?: boolean }): Promise<Page>;
  /** signIn asks for a sign-in link on the page, takes it from the email and presses "Sign in"; lands on Today. */
  signIn(page: Page, email: string, smtp: TestSmtpServer): Promise<void>;
  close(): Promise<void>;
}

/** openBrowser makes the app listen on a free port of 127.0.0.1 and launches Chromium for it. */
export async function openBrowser(t: TestApp): Promise<TestBrowser> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = t.app.server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  const browser = await launchChromium();
  const contexts: BrowserContext[] = [];
  const url = (p: string) => {
    const u = new URL(p, baseUrl);
    return `${baseUrl}${u.pathname}${u.search}`;
  };
  return {
    browser,
    baseUrl,
    url,
    async newPage(opts = {}) {
      const context = await browser.newContext({
        javaScriptEnabled: opts.javaScript ?? true,
        viewport: { width: 1280, height: 900 },
      });
      contexts.push(context);
      return context.newPage();
    },
    async signIn(page, email, smtp) {
      const before = smtp.messages.length;
      await page.goto(url('/console/sign-in'));
      await page.getByLabel('Work email').fill(email);
      await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
      await page.getByText('Check your email').waitFor();
      const message = await waitFor(
        () => smtp.messages.slice(before).find((m) => m.envelope.to.includes(email)),
        `the sign-in email to ${email}`,
      );
      const link = /(https?:\/\/\S+\/console\/sign-in\/[A-Za-z0-9_-]+)/.exec(message.text ?? '')?.[1];
      if (!link) throw new Error(`no sign-in link in the email to ${email}`);
      await page.goto(url(link));
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/console\/today$/);
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close();
    },
  };
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** AxeViolation is one rule axe-core found broken, with where. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * axeViolations runs axe-core in the page and returns the serious and critical violations. The console's CSP
 * refuses inline scripts, so page.addScriptTag is refused there; the source is then evaluated through the DevTools
 * protocol, which the page's CSP does not govern.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  try {
    await page.addScriptTag({ content: AXE_SOURCE });
  } catch {
    // refused by the CSP: evaluated below
  }
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } }).axe;
    const r = await axe.run();
    return r.violations as { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
  });
  return result
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}

/** expectAccessible fails the test with axe-core's serious or critical violations on the page, if any. */
export async function expectAccessible(page: Page): Promise<void> {
  const violations = await axeViolations(page);
  if (violations.length > 0) {
    throw new Error(
      `axe found on ${page.url()}:\n${violations.map((v) => `- ${v.impact} ${v.id}: ${v.help} at ${v.targets.join(', ')}`).join('\n')}`,
    );
  }
}
