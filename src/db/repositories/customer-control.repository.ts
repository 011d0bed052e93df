/**
 * What the customer's own controls need: the touches of their timeline as the preference page shows them,
 * re-routing or cancelling future contacts when preferences change, and wiping personal data on erasure.
 */
import { sql } from 'kysely';
import type { Database } from '../database';
import type { Channel, TouchStatus } from '../../domain/types';
import { toCustomer, type Customer } from './customer.repository';
import { cancelCallTouches } from './touch-lifecycle.repository';

/** lockCustomer returns a customer with the row locked for the rest of the transaction, or null. */
export async function lockCustomer(db: Database, id: string): Promise<Customer | null> {
  const row = await db.selectFrom('customers').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  return row ? toCustomer(row) : null;
}

/** TouchView is a touch as the customer sees it: what, when, how it ended, and the step's purpose. */
export interface TouchView {
  id: string;
  step: number;
  channel: Channel;
  dueAt: Date;
  status: TouchStatus;
  statusReason: string | null;
  completedAt: Date | null;
  purpose: string | null;
  subject: string | null;
  /** The step's words for the customer (PlanStep.customerDescription), if the plan has them. */
  customerDescription: string | null;
  senderRole: string | null;
  assigneeId: string | null;
  /** The sale whose plan the touch belongs to. */
  saleId: string | null;
  /** Who signed what was sent, as stored with it; for a call, who was given the task. */
  sentBy: string | null;
  /** A newsletter's subject. */
  newsletterSubject: string | null;
}

/** listTouchViews returns a customer's touches by due time, with each step's purpose and the rendered subject. */
export async function listTouchViews(db: Database, customerId: string): Promise<TouchView[]> {
  const rows = await sql<TouchView>`
    select t.id, t.step, t.channel, t.due_at as "dueAt", t.status, t.status_reason as "statusReason",
      t.completed_at as "completedAt", t.content->>'subject' as subject,
      (select s->>'purpose' from jsonb_array_elements(pr.plan) s where (s->>'step')::int = t.step limit 1) as purpose,
      (select s->>'customerDescription' from jsonb_array_elements(pr.plan) s where (s->>'step')::int = t.step limit 1)
        as "customerDescription",
      t.sender_role as "senderRole", t.assignee_id as "assigneeId", pr.sale_id as "saleId",
      coalesce(t.content->'sender'->>'name',
        (select p.name from tasks k join staff p on p.id = k.assignee_id where k.touch_id = t.id
          order by k.attempt desc limit 1)) as "sentBy",
      n.subject as "newsletterSubject"
    from touches t left join plan_runs pr on pr.id = t.plan_run_id left join newsletters n on n.id = t.newsletter_id
    where t.customer_id = ${customerId}
    order by t.due_at, t.step`.execute(db);
  return rows.rows;
}

/** TouchContent is what was rendered for one touch (subject, text, sender), as stored. */
export interface TouchContent {
  touchId: string;
  content: unknown;
  hasLetterPdf: boolean;
}

/** listTouchContents returns the rendered content held for a customer's touches. */
export async function listTouchContents(db: Database, customerId: string): Promise<TouchContent[]> {
  return db
    .selectFrom('touches')
    .select(['id as touchId', 'content', sql<boolean>`letter_pdf is not null`.as('hasLetterPdf')])
    .where('customerId', '=', customerId)
    .where((eb) => eb.or([eb('content', 'is not', null), eb('letterPdf', 'is not', null)]))
    .orderBy('dueAt')
    .execute();
}

/** AuditView is one audit entry about a customer or their sales, touches, tasks and notes. */
export interface AuditView {
  id: string;
  at: Date;
  actor: string;
  action: string;
  entity: string;
  entityId: string | null;
  detail: unknown;
}

/** listAuditOfCustomer returns the audit entries about a customer and their sales, touches, tasks and notes. */
export async function listAuditOfCustomer(db: Database, customerId: string): Promise<AuditView[]> {
  const rows = await sql<AuditView>`
    select a.id::text as id, a.at, a.actor, a.action, a.entity, a.entity_id as "entityId", a.detail
    from audit_log a
    where (a.entity = 'customer' and a.entity_id = ${customerId})
       or (a.entity = 'sale' and a.entity_id in (select id::text from sales where customer_id = ${customerId}))
       or (a.entity = 'touch' and a.entity_id in (select id::text from touches where customer_id = ${customerId}))
       or (a.entity = 'task' and a.entity_id in (select id::text from tasks where customer_id = ${customerId}))
       or (a.entity = 'note' and a.entity_id in (select id::text from notes where customer_id = ${customerId}))
    order by a.at, a.id`.execute(db);
  return rows.rows;
}

/** updateAuditDetail replaces the detail of one audit entry (used to wipe personal data from it). */
export async function updateAuditDetail(db: Database, id: string, detail: unknown): Promise<void> {
  await db
    .updateTable('auditLog')
    .set({ detail: JSON.stringify(detail) })
    .where('id', '=', id)
    .execute();
}

/** MailTouch is a future letter-or-email touch that may be re-routed when the customer's details change. */
export interface MailTouch {
  id: string;
  channel: Channel;
  status: TouchStatus;
  statusReason: string | null;
}

/**
 * listReroutableMailTouches returns a customer's touches planned from a letter-or-email step that have not gone
 * out: scheduled or queued, plus future ones skipped for want of an address (a correction can bring those back).
 * Touches from steps fixed to one channel (e.g. a personal letter) are not returned.
 */
export async function listReroutableMailTouches(db: Database, customerId: string, now: Date): Promise<MailTouch[]> {
  const rows = await sql<MailTouch>`
    select t.id, t.channel, t.status, t.status_reason as "statusReason"
    from touches t join plan_runs pr on pr.id = t.plan_run_id
    where t.customer_id = ${customerId}
      and t.channel in ('email', 'letter')
      and (t.status in ('scheduled', 'queued') or (t.status = 'skipped' and t.status_reason = 'no_address' and t.due_at > ${now}))
      and exists (select 1 from jsonb_array_elements(pr.plan) s where (s->>'step')::int = t.step and s->>'channel' = 'mail')
    for update of t`.execute(db);
  return rows.rows;
}

/**
 * cancelOpenTasks cancels a customer's open tasks of the given kinds (all kinds when null), and the call touches
 * behind them (a call touch is `sent` while its task is on someone's list); returns how many tasks it cancelled.
 */
export async function cancelOpenTasks(
  db: Database,
  customerId: string,
  kinds: string[] | null,
  at: Date,
  reason: string,
): Promise<number> {
  let q = db
    .updateTable('tasks')
    .set({ status: 'cancelled', completedAt: at })
    .where('customerId', '=', customerId)
    .where('status', '=', 'open');
  if (kinds) q = q.where('kind', 'in', kinds);
  const rows = await q.returning(['id', 'touchId']).execute();
  const touchIds = [...new Set(rows.map((r) => r.touchId).filter((id): id is string => id !== null))];
  if (touchIds.length > 0) {
    await cancelCallTouches(db, touchIds, at, reason, 'customer');
  }
  return rows.length;
}

/** endAllActiveRuns ends every running plan of a customer (first year, later years, thank-yous). */
export async function endAllActiveRuns(db: Database, customerId: string): Promise<number> {
  const rows = await db
    .updateTable('planRuns')
    .set({ status: 'cancelled' })
    .where('customerId', '=', customerId)
    .where('status', '=', 'active')
    .returning('id')
    .execute();
  return rows.length;
}

/** wipeCustomerRow erases a customer's personal data and opts them out of everything; the row (and counts) stay. */
export async function wipeCustomerRow(db: Database, id: string, at: Date): Promise<void> {
  await db
    .updateTable('customers')
    .set({
      externalId: null,
      firstName: null,
      lastName: null,
      email: null,
      emailStatus: 'ok',
      phone: null,
      phoneDisplay: null,
      timezone: null,
      preferredChannel: null,
      address: null,
      contactCorrections: '{}',
      emailOptOut: true,
      newsletterOptOut: true,
      doNotContact: true,
      needsCleanup: false,
      // The code is unique and printed in letters, so it is replaced by one that names nobody and cannot be used.
      referralCode: `ERASED-${id}`,
      program: 'none',
      erasedAt: at,
      updatedAt: at,
    })
    .where('id', '=', id)
    .execute();
  // What phone-only matches said about another person who may be this one: personal data too.
  await db.deleteFrom('possibleDuplicates').where('customerId', '=', id).execute();
}

/** wipeSaleReferralCodes removes the referral codes from the customer's sales and from sales credited to them. */
export async function wipeSaleReferralCodes(db: Database, customerId: string): Promise<void> {
  await db
    .updateTable('sales')
    .set({ referralCode: null })
    .where((eb) => eb.or([eb('customerId', '=', customerId), eb('referrerId', '=', customerId)]))
    .where('referralCode', 'is not', null)
    .execute();
}

/** wipeRenderedContent removes what was rendered for the customer: message content and letter PDFs. */
export async function wipeRenderedContent(db: Database, customerId: string): Promise<void> {
  await db
    .updateTable('touches')
    .set({ content: null, letterPdf: null })
    .where('customerId', '=', customerId)
    .where((eb) => eb.or([eb('content', 'is not', null), eb('letterPdf', 'is not', null)]))
    .execute();
}

/** wipeNotes replaces the text of staff notes and task notes about the customer; the rows (and counts) stay. */
export async function wipeNotes(db: Database, customerId: string): Promise<void> {
  await db.updateTable('notes').set({ body: '[erased]' }).where('customerId', '=', customerId).execute();
  await db
    .updateTable('tasks')
    .set({ notes: null })
    .where('customerId', '=', customerId)
    .where('notes', 'is not', null)
    .execute();
}

/** FreeText is a text or JSON value held in a row of the customer's that may quote their details. */
export interface FreeText {
  table: 'touches.status_reason' | 'touch_events.reason' | 'tasks.talking_points' | 'tasks.purpose' | 'sales.response';
  id: string;
  value: unknown;
}

/** listFreeText returns the free-text and JSON values of the customer's rows that may quote their details. */
export async function listFreeText(db: Database, customerId: string): Promise<FreeText[]> {
  const rows = await sql<FreeText>`
    select 'touches.status_reason' as "table", id::text as id, to_jsonb(status_reason) as value
      from touches where customer_id = ${customerId} and status_reason is not null
    union all
    select 'touch_events.reason', e.id::text, to_jsonb(e.reason)
      from touch_events e join touches t on t.id = e.touch_id where t.customer_id = ${customerId} and e.reason is not null
    union all
    select 'tasks.talking_points', id::text, talking_points from tasks where customer_id = ${customerId}
    union all
    select 'tasks.purpose', id::text, to_jsonb(purpose) from tasks where customer_id = ${customerId} and purpose is not null
    union all
    select 'sales.response', id::text, response from sales where customer_id = ${customerId} and response is not null`.execute(
    db,
  );
  return rows.rows;
}

/** updateFreeText writes back one value listed by listFreeText. */
export async function updateFreeText(db: Database, f: FreeText): Promise<void> {
  const text = f.value as string;
  const json = JSON.stringify(f.value);
  switch (f.table) {
    case 'touches.status_reason':
      await db.updateTable('touches').set({ statusReason: text }).where('id', '=', f.id).execute();
      return;
    case 'touch_events.reason':
      await db.updateTable('touchEvents').set({ reason: text }).where('id', '=', f.id).execute();
      return;
    case 'tasks.talking_points':
      await db.updateTable('tasks').set({ talkingPoints: json }).where('id', '=', f.id).execute();
      return;
    case 'tasks.purpose':
      await db.updateTable('tasks').set({ purpose: text }).where('id', '=', f.id).execute();
      return;
    case 'sales.response':
      await db.updateTable('sales').set({ response: json }).where('id', '=', f.id).execute();
      return;
  }
}

/** StoredIdempotentResponse identifies one stored idempotent answer and holds its body. */
export interface StoredIdempotentResponse {
  apiKeyId: string;
  route: string;
  key: string;
  response: unknown;
}

/** findIdempotentResponsesQuoting returns stored idempotent answers whose body contains any of `needles`. */
export async function findIdempotentResponsesQuoting(
  db: Database,
  needles: string[],
): Promise<StoredIdempotentResponse[]> {
  if (needles.length === 0) return [];
  const patterns = needles.map((n) => `%${n.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  const rows = await sql<StoredIdempotentResponse>`
    select api_key_id as "apiKeyId", route, key, response from idempotency_keys
    where response::text ilike any (${patterns})`.execute(db);
  return rows.rows;
}

/** updateIdempotentResponse replaces the body of one stored idempotent answer. */
export async function updateIdempotentResponse(db: Database, r: StoredIdempotentResponse): Promise<void> {
  await db
    .updateTable('idempotencyKeys')
    .set({ response: JSON.stringify(r.response) })
    .where('apiKeyId', '=', r.apiKeyId)
    .where('route', '=', r.route)
    .where('key', '=', r.key)
    .execute();
}
