/**
 * The business's voice on every default step: each letter-or-email step of the default plan rendered as an email
 * and as a letter, through the functions a real send uses, for a customer in the US and one in Australia. Each
 * carries the business's name and the signer's name, title and phone, never "Rapport", never "reply" on paper; the
 * letter is one page of Letter (US) or A4 (AU), and its QR code, read back from the printed page (pdftoppm, jsQR),
 * leads to the customer's own preference page.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import jsQR from 'jsqr';
import { PDFDocument } from 'pdf-lib';
import { PNG } from 'pngjs';
import type { LeasedTouch } from '../../../src/db/repositories/touch-lifecycle.repository';
import { buildEmail } from '../../../src/services/email-message.service';
import { renderTouchLetter } from '../../../src/services/letter.service';
import { loadTouchContext } from '../../../src/services/touch-context.service';
import { createTestApp, saleBody, type TestApp } from '../../helpers/app';

const run = promisify(execFile);
const NOW = new Date('2026-11-02T10:00:00Z');
const IDENTITY = {
  name: 'Lee & Co Furniture',
  address: { lines: ['12 Harbour St'], city: 'Sydney', region: 'NSW', postalCode: '2000', country: 'AU' },
  phone: '+61 2 5550 1000',
  website: 'leeandco.example',
  emailFrom: 'Lee & Co Furniture <hello@leeandco.example>',
};
const SAM = { email: 'sam@leeandco.example', name: 'Sam Shaw', title: 'Sales consultant', phone: '+61 400 555 123' };

let t: TestApp;
let dir: string;

beforeAll(async () => {
  t = await createTestApp('voice-content', NOW);
  dir = await mkdtemp(path.join(tmpdir(), 'rapport-voice-'));
  const put = await t.app.inject({
    method: 'PUT',
    url: '/v1/settings/business',
    headers: t.auth(t.adminKey),
    payload: IDENTITY,
  });
  expect(put.statusCode).toBe(200);
  const staff = await t.app.inject({
    method: 'POST',
    url: '/v1/staff',
    headers: t.auth(t.adminKey),
    payload: { ...SAM, role: 'salesperson' },
  });
  expect(staff.statusCode).toBe(201);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await t.close();
});

const CUSTOMERS = {
  US: {
    externalId: 'C-US',
    firstName: 'Bob',
    lastName: 'Brown',
    email: 'bob@example.com',
    phone: '+1 212 555 0100',
    timezone: 'America/New_York',
    address: {
      lines: ['500 Fifth Avenue', 'Suite 12'],
      city: 'New York',
      region: 'NY',
      postalCode: '10110',
      country: 'US',
    },
  },
  AU: {
    externalId: 'C-AU',
    firstName: 'Ann',
    lastName: 'Lee',
    email: 'ann@example.com',
    phone: '+61 2 5550 1234',
    timezone: 'Australia/Sydney',
    address: { lines: ['1 Main St'], city: 'Parramatta', region: 'NSW', postalCode: '2150', country: 'AU' },
  },
};

async function sell(country: keyof typeof CUSTOMERS): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/sales',
    headers: t.auth(t.posKey),
    payload: saleBody(
      {
        externalId: `INV-${country}`,
        soldAt: '2026-11-01T02:00:00Z',
        salesperson: { email: SAM.email, name: SAM.name },
      },
      CUSTOMERS[country],
    ),
  });
  expect(res.statusCode).toBe(201);
  return res.json().customer.id;
}

async function mailTouches(customerId: string) {
  return t.database.db
    .selectFrom('touches')
    .selectAll()
    .where('customerId', '=', customerId)
    .where('channel', 'in', ['email', 'letter'])
    .orderBy('step')
    .execute();
}

/** leased turns a stored touch into what a worker holds while delivering it, on `channel`. */
function leased(row: Awaited<ReturnType<typeof mailTouches>>[number], channel: 'email' | 'letter'): LeasedTouch {
  return {
    id: row.id,
    planRunId: row.planRunId,
    customerId: row.customerId,
    step: row.step,
    channel,
    senderRole: row.senderRole,
    assigneeId: row.assigneeId,
    dueAt: row.dueAt,
    attempts: 0,
    letterBatchId: null,
    leaseUntil: NOW,
  };
}

/** qrOf renders a PDF's first page to PNG with pdftoppm and returns what its QR code says (jsQR). */
async function qrOf(pdf: Uint8Array, name: string): Promise<string | null> {
  const file = path.join(dir, `${name}.pdf`);
  await writeFile(file, pdf);
  await run('pdftoppm', ['-png', '-r', '150', '-singlefile', file, path.join(dir, name)]);
  const png = PNG.sync.read(await readFile(path.join(dir, `${name}.png`)));
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data ?? null;
}

async function textOf(pdf: Uint8Array, name: string): Promise<string> {
  const file = path.join(dir, `${name}-text.pdf`);
  await writeFile(file, pdf);
  return (await run('pdftotext', ['-layout', file, '-'])).stdout;
}

const POINTS = 72;

describe.each([
  ['US', 'Letter', { width: 8.5 * POINTS, height: 11 * POINTS }],
  ['AU', 'A4', { width: 595.28, height: 841.89 }],
] as const)('every default step for the %s customer', (country, paper, size) => {
  let customerId: string;
  beforeAll(async () => {
    customerId = await sell(country);
  });

  it('as an email: From the business, Reply-To the signer, signed with name, title, business and phone', async () => {
    const rows = await mailTouches(customerId);
    expect(rows.map((r) => r.step)).toEqual([1, 3, 4, 5, 6]);
    for (const row of rows) {
      const tc = (await loadTouchContext(t.ctx, leased(row, 'email')))!;
      const { email } = buildEmail(tc, CUSTOMERS[country].email, t.ctx.settings.publicUrl);
      const what = `step ${row.step} email`;
      expect({ what, from: email.from }).toEqual({ what, from: IDENTITY.emailFrom });
      expect({ what, replyTo: email.replyTo }).toEqual({ what, replyTo: SAM.email });
      for (const part of [email.text, email.html.replace(/&amp;/g, '&')]) {
        for (const needed of [IDENTITY.name, SAM.name, SAM.title, SAM.phone, `Dear ${CUSTOMERS[country].firstName},`])
          expect({ what, has: needed, in: part.includes(needed) }).toEqual({ what, has: needed, in: true });
        expect({ what, rapport: /rapport/i.test(part.replace(/https?:\/\/rapport\.test\S*/g, '')) }).toEqual({
          what,
          rapport: false,
        });
        // No promise of content that is not there, no placeholder left.
        expect({ what, promise: /here (are|is) (a few|something)[^:]*\.\s*$/im.test(part) }).toEqual({
          what,
          promise: false,
        });
        expect({ what, placeholder: /\{\{|\{%|undefined|null/.test(part) }).toEqual({ what, placeholder: false });
      }
      expect(email.headers?.['List-Unsubscribe']).toMatch(/^<http:\/\/rapport\.test\/u\//);
    }
  });

  it(`as a letter: one ${paper} page, no "reply", the signature, and a QR code leading to the preference page`, async () => {
    for (const row of await mailTouches(customerId)) {
      const tc = (await loadTouchContext(t.ctx, leased(row, 'letter')))!;
      const letter = await renderTouchLetter(t.ctx, tc, null);
      const what = `step ${row.step} letter`;
      expect({ what, paper: letter.content.paper }).toEqual({ what, paper });
      const doc = await PDFDocument.load(letter.pdf);
      expect({ what, pages: doc.getPageCount() }).toEqual({ what, pages: 1 });
      const page = doc.getPage(0).getSize();
      expect({ what, width: page.width, height: page.height }).toEqual({ what, ...size });

      const text = await textOf(letter.pdf, `${country}-${row.step}`);
      for (const needed of [IDENTITY.name, SAM.name, SAM.title, SAM.phone, IDENTITY.phone, '12 Harbour St'])
        expect({ what, has: needed, in: text.includes(needed) }).toEqual({ what, has: needed, in: true });
      expect({ what, reply: /\breply\b|\bclick\b|this (e-?mail|message)/i.test(text) }).toEqual({ what, reply: false });
      expect({ what, rapport: /rapport(?!\.test\/l\/)/i.test(text) }).toEqual({ what, rapport: false });
      // The country line only on international mail: the US letter says UNITED STATES, the Australian one no AUSTRALIA.
      expect({ what, country: /UNITED STATES/.test(text) }).toEqual({ what, country: country === 'US' });
      expect({ what, australia: /\bAUSTRALIA\b/.test(text) }).toEqual({ what, australia: false });

      // Read back from the printed page once per customer (rendering pages is slow on a shared machine).
      if (row.step !== 1) continue;
      const qr = await qrOf(letter.pdf, `${country}-${row.step}`);
      expect(qr).toMatch(/^http:\/\/rapport\.test\/l\/[A-Z2-9]{10}$/);
      expect(text).toContain(qr!.replace('http://', '')); // the same short link is printed to type in
      const hop = await t.app.inject({ method: 'GET', url: new URL(qr!).pathname });
      expect(hop.statusCode).toBe(303);
      const pageRes = await t.app.inject({ method: 'GET', url: hop.headers.location as string });
      expect(pageRes.statusCode).toBe(200);
      expect(pageRes.body).toContain(CUSTOMERS[country].email);
    }
  });
});
