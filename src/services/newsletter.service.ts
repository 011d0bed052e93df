/**
 * Newsletters: a manager publishes an edition (subject and Liquid body, a segment or all, a send time); at its send
 * time it fans out, in batches of customers each in its own transaction, to every later-years customer who may get
 * it and is under the cap of 3 in any rolling year; each recipient becomes a touch the dispatcher hands to the
 * newsletter queue. Cancelling before the end stops the fan-out and cancels what is not yet sent.
 */
import {
  renderMessage,
  SAMPLE_CONTEXT,
  TemplateError,
  validateTemplate,
  type MessageContext,
  type RenderedMessage,
} from '../channels/templates';
import type { Customer } from '../db/repositories/customer.repository';
import { findCustomer } from '../db/repositories/customer.repository';
import { findSale } from '../db/repositories/sale.repository';
import { findSegment } from '../db/repositories/segment.repository';
import { audit } from '../db/repositories/access.repository';
import * as repo from '../db/repositories/newsletter.repository';
import * as lifecycle from '../db/repositories/touch-lifecycle.repository';
import { randomBytes } from 'node:crypto';
import { DateTime } from 'luxon';
import type { EmailChannel, SendResult } from '../channels/email.channel';
import { buildMessageContext, businessVars, senderVars } from './touch-context.service';
import { getBusinessIdentity } from './business-identity.service';
import { ConflictError, NotFoundError, ValidationError } from './errors';
import type { ServiceContext } from './context';

/** NewsletterInput is an edition as a manager writes it. */
export interface NewsletterInput {
  subject: string;
  /** Markdown (links, emphasis, lists; raw HTML is shown as text), with Liquid variables. */
  body: string;
  segmentId?: string | null;
  /** An instant: every recipient gets it then. */
  sendAt?: string;
  /** A local time instead: each recipient gets it on `sendOn` (YYYY-MM-DD) at `localTime` (HH:mm) in their zone. */
  sendOn?: string;
  localTime?: string;
}

/** NewsletterCounts are how many customers an edition reached, was held back from, and where its touches are. */
export interface NewsletterCounts {
  recipients: number;
  capped: number;
  scheduled: number;
  queued: number;
  sent: number;
  failed: number;
  skipped: number;
  cancelled: number;
}

/** NewsletterView is an edition as the API shows it. */
export interface NewsletterView {
  id: string;
  subject: string;
  body: string;
  segmentId: string | null;
  sendAt: Date;
  /** Set for an edition sent at a local time in each recipient's zone. */
  local: { date: string; time: string } | null;
  status: repo.NewsletterStatus;
  counts: NewsletterCounts;
  fannedOutAt: Date | null;
  sentAt: Date | null;
  cancelledAt: Date | null;
  createdAt: Date;
}

/** NewsletterSettings tune the fan-out. */
export interface NewsletterSettings {
  /** Customers per transaction. */
  batchSize: number;
  /** Most batches per edition in one run of the task; the next run continues from the stored cursor. */
  maxBatches: number;
}

/** DEFAULT_NEWSLETTER_SETTINGS suit a production deployment: 1,000 customers per transaction. */
export const DEFAULT_NEWSLETTER_SETTINGS: NewsletterSettings = { batchSize: 1000, maxBatches: 200 };

/** PAST_TOLERANCE_MS is how far in the past a send time may be and still be accepted as "now". */
const PAST_TOLERANCE_MS = 5 * 60_000;

function view(n: repo.Newsletter, byStatus: Record<string, number>): NewsletterView {
  const c = (s: string) => byStatus[s] ?? 0;
  return {
    id: n.id,
    subject: n.subject,
    body: n.body,
    segmentId: n.segmentId,
    sendAt: n.sendAt,
    local: n.localDate && n.localTime ? { date: n.localDate, time: n.localTime } : null,
    status: n.status,
    counts: {
      recipients: n.recipients,
      capped: n.capped,
      scheduled: c('scheduled'),
      queued: c('queued'),
      sent: c('sent'),
      failed: c('failed'),
      skipped: c('skipped'),
      cancelled: c('cancelled'),
    },
    fannedOutAt: n.fannedOutAt,
    sentAt: n.sentAt,
    cancelledAt: n.cancelledAt,
    createdAt: n.createdAt,
  };
}

async function viewOf(ctx: ServiceContext, n: repo.Newsletter): Promise<NewsletterView> {
  return view(n, (await repo.countTouchesByStatus(ctx.db, [n.id])).get(n.id) ?? {});
}

// The first zone to reach a local time is UTC+14 (Kiribati): an edition at a local time fans out from then.
const EARLIEST_ZONE = 'Pacific/Kiritimati';

/** sendTimeOf reads when an edition goes: an instant, or a local date and time (fanned out from its earliest instant). */
function sendTimeOf(input: NewsletterInput): { sendAt: Date; local: { date: string; time: string } | null } {
  if (input.sendOn !== undefined || input.localTime !== undefined) {
    if (input.sendAt !== undefined) throw new ValidationError('sendAt', 'give either sendAt, or sendOn with localTime');
    if (!input.sendOn || !/^\d{4}-\d{2}-\d{2}$/.test(input.sendOn))
      throw new ValidationError('sendOn', 'must be a date, YYYY-MM-DD');
    if (!input.localTime || !/^([01][0-9]|2[0-3]):[0-5][0-9]$/.test(input.localTime))
      throw new ValidationError('localTime', 'must be HH:mm');
    const first = DateTime.fromISO(`${input.sendOn}T${input.localTime}`, { zone: EARLIEST_ZONE });
    if (!first.isValid) throw new ValidationError('sendOn', 'is not a real date');
    return { sendAt: first.toJSDate(), local: { date: input.sendOn, time: input.localTime } };
  }
  const sendAt = new Date(input.sendAt ?? '');
  if (Number.isNaN(sendAt.getTime())) throw new ValidationError('sendAt', 'must be an ISO 8601 date-time');
  return { sendAt, local: null };
}

/** checkInput validates an edition as written: its templates, send time (not past) and segment. */
async function checkInput(
  ctx: ServiceContext,
  input: NewsletterInput,
): Promise<{ sendAt: Date; local: { date: string; time: string } | null; segmentId: string | null }> {
  const now = ctx.clock.now();
  try {
    validateTemplate({ subject: input.subject, body: input.body });
  } catch (err) {
    if (err instanceof TemplateError) throw new ValidationError(err.field, err.message.replace(`${err.field}: `, ''));
    throw err;
  }
  const { sendAt, local } = sendTimeOf(input);
  if (sendAt.getTime() < now.getTime() - PAST_TOLERANCE_MS)
    throw new ValidationError(local ? 'sendOn' : 'sendAt', 'must not be in the past');
  const segmentId = input.segmentId ?? null;
  if (segmentId && !(await findSegment(ctx.db, segmentId)))
    throw new ValidationError('segmentId', `no segment ${segmentId}`);
  return { sendAt, local, segmentId };
}

async function insertEdition(
  ctx: ServiceContext,
  input: NewsletterInput,
  actor: string,
  status: 'draft' | 'scheduled',
): Promise<NewsletterView> {
  const now = ctx.clock.now();
  const { sendAt, local, segmentId } = await checkInput(ctx, input);
  const n = await ctx.db.transaction().execute(async (trx) => {
    const created = await repo.insertNewsletter(trx, {
      subject: input.subject,
      body: input.body,
      segmentId,
      sendAt,
      local,
      createdBy: actor,
      at: now,
      status,
    });
    await audit(trx, {
      actor,
      action: status === 'draft' ? 'newsletter.drafted' : 'newsletter.published',
      entity: 'newsletter',
      entityId: created.id,
      detail: { segmentId, sendAt },
      at: now,
    });
    return created;
  });
  return view(n, {});
}

/** publishNewsletter validates and schedules an edition. */
export function publishNewsletter(ctx: ServiceContext, input: NewsletterInput, actor: string): Promise<NewsletterView> {
  return insertEdition(ctx, input, actor, 'scheduled');
}

/**
 * saveNewsletterDraft validates an edition and keeps it as a draft: it is not sent until scheduleNewsletter, so the
 * manager can first see who it would reach, preview it and send themselves a test. With `id`, rewrites that draft.
 */
export async function saveNewsletterDraft(
  ctx: ServiceContext,
  input: NewsletterInput,
  actor: string,
  id?: string,
): Promise<NewsletterView> {
  if (!id) return insertEdition(ctx, input, actor, 'draft');
  const now = ctx.clock.now();
  const { sendAt, local, segmentId } = await checkInput(ctx, input);
  await ctx.db.transaction().execute(async (trx) => {
    const n = await repo.lockNewsletter(trx, id);
    if (!n) throw new NotFoundError('newsletter', id);
    if (n.status !== 'draft') throw new ConflictError(`newsletter ${id} is ${n.status}, no longer a draft`);
    await repo.updateDraft(trx, id, { subject: input.subject, body: input.body, segmentId, sendAt, local, at: now });
    await audit(trx, {
      actor,
      action: 'newsletter.draft_changed',
      entity: 'newsletter',
      entityId: id,
      detail: { segmentId, sendAt },
      at: now,
    });
  });
  return getNewsletter(ctx, id);
}

/**
 * scheduleNewsletter schedules a draft to go out at its send time; `sendNow` (an edition at one instant only) makes
 * that time now, for an edition meant to go at once or whose chosen time passed while it was a draft.
 */
export async function scheduleNewsletter(
  ctx: ServiceContext,
  id: string,
  actor: string,
  opts: { sendNow?: boolean } = {},
): Promise<NewsletterView> {
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    const n = await repo.lockNewsletter(trx, id);
    if (!n) throw new NotFoundError('newsletter', id);
    if (n.status !== 'draft') throw new ConflictError(`newsletter ${id} is already ${n.status}`, { field: 'status' });
    const local = Boolean(n.localDate && n.localTime);
    const sendAt = opts.sendNow && !local ? now : n.sendAt;
    if (sendAt.getTime() < now.getTime() - PAST_TOLERANCE_MS)
      throw new ValidationError(local ? 'sendOn' : 'sendAt', 'must not be in the past');
    await repo.updateNewsletter(trx, id, { status: 'scheduled', sendAt }, now);
    await audit(trx, {
      actor,
      action: 'newsletter.published',
      entity: 'newsletter',
      entityId: id,
      detail: { segmentId: n.segmentId, sendAt },
      at: now,
    });
  });
  return getNewsletter(ctx, id);
}

/** NewsletterAudience is who an edition would reach if it went out now. */
export interface NewsletterAudience {
  /** Customers of its audience who may get newsletters (later-years, not opted out, paused or bounced). */
  eligible: number;
  /** Of them, those already at the cap of 3 newsletters in a rolling year. */
  capped: number;
  /** Those it would go to: eligible and under the cap. */
  recipients: number;
}

/**
 * countNewsletterAudience counts who an edition would reach now, by the fan-out's own rules (the same repository
 * query), with the cap counted around its send time (now, for a time already passed).
 */
export async function countNewsletterAudience(ctx: ServiceContext, id: string): Promise<NewsletterAudience> {
  const n = await repo.findNewsletter(ctx.db, id);
  if (!n) throw new NotFoundError('newsletter', id);
  const now = ctx.clock.now();
  return repo.countRecipients(ctx.db, { segmentId: n.segmentId, sendAt: n.sendAt < now ? now : n.sendAt });
}

/** PreviewCandidate is a customer an edition may go to, offered to preview it as. */
export interface PreviewCandidate {
  id: string;
  name: string;
  email: string | null;
}

/** listPreviewCandidates returns up to `limit` customers an edition's audience holds, by name, to preview it as. */
export async function listPreviewCandidates(
  ctx: ServiceContext,
  segmentId: string | null,
  limit = 100,
): Promise<PreviewCandidate[]> {
  const rows = await repo.listRecipientSample(ctx.db, segmentId, limit);
  return rows.map((r) => ({
    id: r.id,
    name: [r.firstName, r.lastName].filter(Boolean).join(' ') || (r.email ?? 'customer'),
    email: r.email,
  }));
}

/**
 * sendNewsletterTest emails an edition, rendered for `customerId` (or the sample customer), to `to` (the manager
 * asking), its subject marked as a test. Nothing is recorded against the customer: no touch, no count.
 */
export async function sendNewsletterTest(
  ctx: ServiceContext,
  mail: EmailChannel,
  id: string,
  to: string,
  customerId?: string,
): Promise<SendResult> {
  const preview = await previewNewsletter(ctx, id, customerId);
  const identity = await getBusinessIdentity(ctx);
  const host = new URL(ctx.settings.publicUrl).hostname || 'rapport.local';
  return mail.send({
    from: identity.emailFrom,
    to,
    subject: `[Test] ${preview.subject}`,
    text: preview.text,
    html: preview.html,
    messageId: `<newsletter-test.${randomBytes(8).toString('hex')}@${host}>`,
  });
}

/** listNewsletters returns editions, latest send time first, optionally of one status. */
export async function listNewsletters(
  ctx: ServiceContext,
  f: { status?: repo.NewsletterStatus; limit?: number } = {},
): Promise<NewsletterView[]> {
  const list = await repo.listNewsletters(ctx.db, { status: f.status, limit: f.limit ?? 50 });
  const counts = await repo.countTouchesByStatus(
    ctx.db,
    list.map((n) => n.id),
  );
  return list.map((n) => view(n, counts.get(n.id) ?? {}));
}

/** getNewsletter returns one edition with its counts. */
export async function getNewsletter(ctx: ServiceContext, id: string): Promise<NewsletterView> {
  const n = await repo.findNewsletter(ctx.db, id);
  if (!n) throw new NotFoundError('newsletter', id);
  return viewOf(ctx, n);
}

/** newsletterContext is the template variables of a newsletter for one customer: their latest purchase, signed by the business. */
export async function newsletterContext(ctx: ServiceContext, customer: Customer): Promise<MessageContext> {
  const saleId = await repo.findLatestSaleId(ctx.db, customer.id);
  const sale = saleId ? await findSale(ctx.db, saleId) : null;
  return buildMessageContext(ctx, {
    identity: await getBusinessIdentity(ctx),
    customer,
    sale,
    sender: null,
    zone: customer.timezone ?? ctx.settings.defaultTimezone,
    channel: 'newsletter',
  });
}

/** renderNewsletter renders an edition for one customer exactly as it is sent: Markdown, signed by the business. */
export function renderNewsletter(n: { subject: string; body: string }, message: MessageContext): RenderedMessage {
  return renderMessage({ subject: n.subject, body: n.body }, message, 'markdown');
}

/** sampleNewsletterContext is the sample customer receiving a newsletter from this business, as the preview shows. */
async function sampleNewsletterContext(ctx: ServiceContext): Promise<MessageContext> {
  const identity = await getBusinessIdentity(ctx);
  const b = businessVars(identity);
  return {
    ...(SAMPLE_CONTEXT as MessageContext),
    business: b,
    sender: senderVars(identity, null),
    channel: 'newsletter',
    signature: identity.signature,
    logoUrl: identity.logo ? `${ctx.settings.publicUrl}/brand/logo` : null,
  };
}

/** NewsletterPreview is an edition rendered for one customer (or the sample customer). */
export interface NewsletterPreview {
  customerId: string | null;
  subject: string;
  text: string;
  html: string;
}

/** previewNewsletter renders an edition for `customerId`, or for the sample customer when none is given. */
export async function previewNewsletter(
  ctx: ServiceContext,
  id: string,
  customerId?: string,
): Promise<NewsletterPreview> {
  const n = await repo.findNewsletter(ctx.db, id);
  if (!n) throw new NotFoundError('newsletter', id);
  let message: MessageContext;
  if (customerId) {
    const customer = await findCustomer(ctx.db, customerId);
    if (!customer || customer.erasedAt) throw new NotFoundError('customer', customerId);
    message = await newsletterContext(ctx, customer);
  } else {
    message = await sampleNewsletterContext(ctx);
  }
  const rendered: RenderedMessage = renderNewsletter(n, message);
  return { customerId: customerId ?? null, subject: rendered.subject, text: rendered.text, html: rendered.html };
}

/** cancelNewsletter stops an edition that is not yet fully sent and cancels its touches not yet delivered. */
export async function cancelNewsletter(ctx: ServiceContext, id: string, actor: string): Promise<NewsletterView> {
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    // The lock makes a running fan-out batch finish first; the next one sees `cancelled` and stops.
    const n = await repo.lockNewsletter(trx, id);
    if (!n) throw new NotFoundError('newsletter', id);
    if (n.status === 'cancelled') throw new ConflictError(`newsletter ${id} is already cancelled`, { field: 'status' });
    if (n.status === 'sent' || (n.fannedOutAt && (await repo.countOpenTouches(trx, id)) === 0)) {
      throw new ConflictError(`newsletter ${id} has already been sent`, { field: 'status' });
    }
    const cancelled = await lifecycle.cancelOpenTouches(
      trx,
      { newsletterId: id },
      now,
      'newsletter_cancelled',
      'newsletter',
    );
    await repo.updateNewsletter(trx, id, { status: 'cancelled', cancelledAt: now }, now);
    await audit(trx, {
      actor,
      action: 'newsletter.cancelled',
      entity: 'newsletter',
      entityId: id,
      detail: { touchesCancelled: cancelled, wasStatus: n.status },
      at: now,
    });
  });
  return getNewsletter(ctx, id);
}

/** FanOutReport is what one fan-out pass over an edition did. */
export interface FanOutReport {
  added: number;
  capped: number;
  /** The fan-out has considered every customer. */
  complete: boolean;
}

/**
 * fanOutNewsletter adds the touches of one edition whose send time has come, a batch of customers per transaction
 * (keyset on customer id, the cursor stored with the edition), and marks it sent once fanned out and delivered.
 * Safe to run from several workers at once: each batch locks the edition, and touches are unique per customer.
 */
export async function fanOutNewsletter(
  ctx: ServiceContext,
  id: string,
  s: NewsletterSettings = DEFAULT_NEWSLETTER_SETTINGS,
): Promise<FanOutReport> {
  const report: FanOutReport = { added: 0, capped: 0, complete: false };
  for (let pages = 0; ;) {
    const now = ctx.clock.now();
    const step = await ctx.db.transaction().execute(async (trx): Promise<'stop' | 'page' | 'last'> => {
      const n = await repo.lockNewsletter(trx, id);
      if (!n || n.sendAt > now || (n.status !== 'scheduled' && n.status !== 'sending')) return 'stop';
      if (n.fannedOutAt) {
        report.complete = true;
        if ((await repo.countOpenTouches(trx, id)) === 0)
          await repo.updateNewsletter(trx, id, { status: 'sent', sentAt: now }, now);
        return 'stop';
      }
      const page = await repo.lockRecipientPage(trx, n, n.fanoutCursor, s.batchSize);
      const added = await repo.insertNewsletterTouches(trx, n, page, now, ctx.settings.defaultTimezone);
      const done = page.length < s.batchSize;
      await repo.updateNewsletter(
        trx,
        id,
        {
          status: 'sending',
          fanoutCursor: page.at(-1) ?? n.fanoutCursor,
          addRecipients: added.length,
          addCapped: page.length - added.length,
          ...(done ? { fannedOutAt: now } : {}),
        },
        now,
      );
      report.added += added.length;
      report.capped += page.length - added.length;
      // After the last page, one more pass checks whether everything is already delivered (or there was nobody).
      return done ? 'last' : 'page';
    });
    if (step === 'stop') break;
    if (step === 'page' && ++pages >= s.maxBatches) break;
  }
  return report;
}

/** fanOutDueNewsletters fans out every edition whose send time has come; returns how many touches it added. */
export async function fanOutDueNewsletters(
  ctx: ServiceContext,
  s: NewsletterSettings = DEFAULT_NEWSLETTER_SETTINGS,
): Promise<number> {
  let added = 0;
  for (const id of await repo.listDueNewsletterIds(ctx.db, ctx.clock.now())) {
    const r = await fanOutNewsletter(ctx, id, s);
    added += r.added;
    if (r.added || r.capped) ctx.log.info({ newsletterId: id, ...r }, 'newsletter fanned out');
  }
  return added;
}
