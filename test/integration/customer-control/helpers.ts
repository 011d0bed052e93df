/** Shared steps of the customer-control tests: selling to a customer, their link, form posts and a state snapshot. */
import { preferenceToken, unsubscribeToken } from '../../helpers/links';
import type { TestSmtpServer } from '../../helpers/smtp';
import { waitFor } from '../../helpers/wait';
import { saleBody, type TestApp } from '../../helpers/app';

/** Sold is a customer created by a sale, with the sale's touches and the customer's link token. */
export interface Sold {
  customerId: string;
  saleId: string;
  /** The preference link's token. */
  token: string;
  /** The unsubscribe link's token. */
  unsubscribe: string;
  touches: { id: string; step: number; channel: string; dueAt: string; status: string }[];
}

let seq = 0;

/** sell posts a sale (201 expected) for a customer in UTC; fields set to undefined are left out of the body. */
export async function sell(
  t: TestApp,
  customer: Record<string, unknown>,
  patch: Record<string, unknown> = {},
): Promise<Sold> {
  seq++;
  const body = saleBody(
    { externalId: `CC-${seq}-${Date.now()}`, soldAt: '2026-10-29T10:00:00Z', ...patch },
    { externalId: `CC-C-${seq}-${Date.now()}`, timezone: 'UTC', ...customer },
  );
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/sales',
    headers: t.auth(t.posKey),
    payload: JSON.parse(JSON.stringify(body)),
  });
  if (res.statusCode !== 201) throw new Error(`sale refused: ${res.statusCode} ${res.body}`);
  const json = res.json();
  return {
    customerId: json.customer.id,
    saleId: json.sale.id,
    token: preferenceToken(json.customer.id, t.clock.now()),
    unsubscribe: unsubscribeToken(json.customer.id),
    touches: json.touches,
  };
}

/** form posts an application/x-www-form-urlencoded body, as a browser does. */
export function form(t: TestApp, url: string, fields: Record<string, string> | string) {
  return t.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: typeof fields === 'string' ? fields : new URLSearchParams(fields).toString(),
  });
}

/** snapshot is everything a customer action could change about a customer, for before/after comparisons. */
export async function snapshot(t: TestApp, customerId: string) {
  const db = t.database.db;
  return {
    customer: await db.selectFrom('customers').selectAll().where('id', '=', customerId).executeTakeFirstOrThrow(),
    touches: await db
      .selectFrom('touches')
      .select(['id', 'status', 'statusReason', 'channel', 'dueAt', 'content'])
      .where('customerId', '=', customerId)
      .orderBy('id')
      .execute(),
    tasks: await db
      .selectFrom('tasks')
      .select(['id', 'status', 'notes'])
      .where('customerId', '=', customerId)
      .orderBy('id')
      .execute(),
    notes: await db
      .selectFrom('notes')
      .select(['id', 'body'])
      .where('customerId', '=', customerId)
      .orderBy('id')
      .execute(),
    sales: await db
      .selectFrom('sales')
      .select(['id', 'referralCode', 'response'])
      .where('customerId', '=', customerId)
      .orderBy('id')
      .execute(),
    audit: (
      await db
        .selectFrom('auditLog')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  };
}

/** touchesOf returns a customer's touches with status, channel and reason, by step. */
export async function touchesOf(t: TestApp, customerId: string) {
  return t.database.db
    .selectFrom('touches')
    .select(['id', 'step', 'channel', 'status', 'statusReason', 'dueAt', 'newsletterId'])
    .where('customerId', '=', customerId)
    .orderBy('step')
    .orderBy('dueAt')
    .execute();
}

/** auditOf returns the audit entries about a customer, oldest first. */
export async function auditOf(t: TestApp, customerId: string) {
  return t.database.db
    .selectFrom('auditLog')
    .select(['actor', 'action', 'detail'])
    .where('entity', '=', 'customer')
    .where('entityId', '=', customerId)
    .orderBy('id')
    .execute();
}

/** addNewsletterTouch gives a customer a scheduled newsletter (an edition and its touch), as the fan-out would. */
export async function addNewsletterTouch(t: TestApp, customerId: string, dueAt: Date): Promise<string> {
  const db = t.database.db;
  const edition = await db
    .insertInto('newsletters')
    .values({ subject: 'Autumn news', body: 'Hello {{ customer.firstName }}', sendAt: dueAt, status: 'sending' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const touch = await db
    .insertInto('touches')
    .values({ customerId, step: 0, channel: 'newsletter', newsletterId: edition.id, dueAt, status: 'scheduled' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return touch.id;
}

/**
 * dataLink asks on the customer's page for a single-use link to download or erase their data, and returns its token
 * from the email it is sent in.
 */
export async function dataLink(
  t: TestApp,
  smtp: TestSmtpServer,
  sold: Sold,
  what: 'export' | 'erase',
): Promise<string> {
  const before = smtp.messages.length;
  const res = await form(t, `/p/${sold.token}/request`, { what });
  if (res.statusCode !== 303) throw new Error(`request refused: ${res.statusCode} ${res.body}`);
  await waitFor(() => smtp.messages.length > before, 'the data link email');
  const mail = smtp.messages.slice(before).find((m) => /\/d\/[A-Za-z0-9_-]+/.test(m.text ?? ''));
  if (!mail) throw new Error('no data link email arrived');
  return /\/d\/([A-Za-z0-9_-]+)/.exec(mail.text ?? '')![1];
}
