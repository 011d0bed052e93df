/**
 * A customer's story as staff read it in the console: who they are and how to reach them, what they bought, every
 * email and letter sent with its text, earlier calls and their outcomes, notes and complaints, what is planned ahead
 * and why a contact was skipped or missed. Only for a customer the viewer may see (visibility.service).
 */
import { findCustomer, type Customer } from '../db/repositories/customer.repository';
import { listSalesOfCustomer, type SaleRecord } from '../db/repositories/sale.repository';
import { listNotesOfCustomer, listTasksOfCustomer } from '../db/repositories/timeline.repository';
import * as story from '../db/repositories/customer-story.repository';
import { normalizePhone } from '../domain/identity';
import type { PlanStep } from '../domain/types';
import { customerLinks } from './customer-link';
import { getTouchesWithHistory, type TouchWithHistory } from './customer.service';
import { NotFoundError } from './errors';
import { requireCustomer, scopeOf, type Viewer } from './visibility.service';
import type { ServiceContext } from './context';

/** StoryEntry is one thing that happened, newest first on the page. */
export interface StoryEntry {
  at: Date;
  kind: 'sale' | 'email' | 'letter' | 'newsletter' | 'call' | 'note' | 'complaint' | 'skipped' | 'missed' | 'other';
  title: string;
  /** A line under the title: who, why, the outcome's notes. */
  detail: string | null;
  /** The full text of what was sent, when it was kept. */
  body: string | null;
}

/** PlannedEntry is a contact planned ahead, with why it is made. */
export interface PlannedEntry {
  at: Date;
  channel: string;
  step: number;
  purpose: string | null;
  status: string;
}

/** CustomerStory is everything the console shows about one customer. */
export interface CustomerStory {
  customer: Customer;
  name: string;
  zone: string;
  /** The first sale's time (else when the customer was recorded). */
  since: Date;
  /** Digits and + only, for a tel: link. */
  tel: string | null;
  preferenceLink: string;
  sales: (SaleRecord & { salesperson: string | null })[];
  past: StoryEntry[];
  ahead: PlannedEntry[];
  openTasks: { id: string; kind: string; dueAt: Date; attempt: number; assignee: string | null; mine: boolean }[];
}

/** REASONS turn status reasons into plain words. */
const REASONS: Record<string, string> = {
  no_address: 'no email or postal address known',
  do_not_contact: 'the customer asked not to be contacted',
  email_opt_out: 'the customer unsubscribed from email',
  erased: "the customer's data was erased",
  customer_paused: 'the plan is paused (a complaint is open)',
  grace_period: 'it fell due before the sale was recorded',
  late_sync: 'it fell due before the sale was recorded',
  no_answer: 'no answer',
  voicemail: 'left a voicemail',
  reached: 'reached',
  wrong_number: 'wrong number',
  complaint: 'complaint',
  task_created: 'call put on the list',
  newsletter_cap: 'the customer had three newsletters this year already',
};

/** plainReason turns a stored reason like `no_address` into words. */
export function plainReason(reason: string | null): string | null {
  if (!reason) return null;
  const key = reason.split(':')[0]!.trim();
  return REASONS[key] ?? reason.replace(/_/g, ' ');
}

const CHANNEL_WORDS: Record<string, string> = {
  email: 'Email',
  letter: 'Letter',
  call: 'Call',
  newsletter: 'Newsletter',
};

/** OUTCOME_WORDS name call outcomes for people. */
export const OUTCOME_WORDS: Record<string, string> = {
  reached: 'Reached',
  voicemail: 'Left a voicemail',
  no_answer: 'No answer',
  wrong_number: 'Wrong number',
  complaint: 'Complaint',
};

function nameOf(c: { firstName: string | null; lastName: string | null }): string {
  return [c.firstName, c.lastName].filter(Boolean).join(' ') || 'Unnamed customer';
}

function purposeOf(steps: Map<string, PlanStep[]>, t: TouchWithHistory): string | null {
  if (!t.planRunId) return null;
  return steps.get(t.planRunId)?.find((s) => s.step === t.step)?.purpose ?? null;
}

function touchEntry(
  t: TouchWithHistory,
  purpose: string | null,
  sent: story.SentContent | undefined,
): StoryEntry | null {
  const at = t.completedAt ?? t.dueAt;
  const channel = CHANNEL_WORDS[t.channel] ?? t.channel;
  const why = purpose ? `Step ${t.step}: ${purpose}` : `Step ${t.step}`;
  switch (t.status) {
    case 'sent':
    case 'done':
      // A call's story is its attempts (the tasks); the touch only says the call was put on the list.
      if (t.channel === 'call') return null;
      return {
        at,
        kind: t.channel === 'letter' ? 'letter' : t.channel === 'newsletter' ? 'newsletter' : 'email',
        title: `${channel} sent${sent?.subject ? `: “${sent.subject}”` : ''}`,
        detail: [why, sent?.sender ? `signed by ${sent.sender}` : null].filter(Boolean).join(' · '),
        body: sent?.text ?? null,
      };
    case 'skipped':
      return {
        at,
        kind: 'skipped',
        title: `${channel} skipped`,
        detail: `${why} · ${plainReason(t.statusReason) ?? 'skipped'}`,
        body: null,
      };
    case 'missed':
      return {
        at,
        kind: 'missed',
        title: `${channel} not made`,
        detail: `${why} · ${plainReason(t.statusReason) ?? 'missed'}`,
        body: null,
      };
    case 'cancelled':
    case 'failed':
      if (t.channel === 'call' && (t.statusReason === 'no_answer' || t.statusReason === 'wrong_number')) return null;
      return {
        at,
        kind: 'other',
        title: `${channel} ${t.status}`,
        detail: `${why}${t.statusReason ? ` · ${plainReason(t.statusReason)}` : ''}`,
        body: null,
      };
    default:
      return null;
  }
}

/** customerStory returns the story of a customer the viewer may see; any other is not_found. */
export async function customerStory(ctx: ServiceContext, viewer: Viewer, customerId: string): Promise<CustomerStory> {
  const customer = await findCustomer(ctx.db, customerId);
  if (!customer || customer.erasedAt) throw new NotFoundError('customer', customerId);
  await requireCustomer(ctx, viewer, customerId);
  const [sales, touches, tasks, notes, steps, sent] = await Promise.all([
    listSalesOfCustomer(ctx.db, customerId),
    getTouchesWithHistory(ctx, customerId),
    listTasksOfCustomer(ctx.db, customerId),
    listNotesOfCustomer(ctx.db, customerId),
    story.listPlanSteps(ctx.db, customerId),
    story.listSentContents(ctx.db, customerId),
  ]);
  const names = await story.staffNames(
    ctx.db,
    [...sales.map((s) => s.salespersonId), ...tasks.map((t) => t.assigneeId), ...notes.map((n) => n.staffId)].filter(
      (id): id is string => !!id,
    ),
  );
  const sentBy = new Map(sent.map((s) => [s.touchId, s]));
  const touchById = new Map(touches.map((t) => [t.id, t]));

  const past: StoryEntry[] = [];
  for (const s of sales) {
    const items = s.items.map((i) => `${i.quantity} × ${i.name ?? i.sku ?? 'item'}`).join(', ');
    const by = s.salespersonId ? names.get(s.salespersonId) : null;
    past.push({
      at: s.soldAt,
      kind: 'sale',
      title: `Bought ${items || 'something'} (${s.total.amount} ${s.total.currency})`,
      detail: by ? `Sold by ${by}` : null,
      body: null,
    });
  }
  for (const t of touches) {
    const entry = touchEntry(t, purposeOf(steps, t), sentBy.get(t.id));
    if (entry) past.push(entry);
  }
  for (const k of tasks) {
    if (!k.completedAt || k.status === 'cancelled') continue;
    if (k.kind !== 'call' && !k.outcome) continue;
    const touch = k.touchId ? touchById.get(k.touchId) : undefined;
    const purpose = touch ? purposeOf(steps, touch) : null;
    const who = k.assigneeId ? names.get(k.assigneeId) : null;
    past.push({
      at: k.completedAt,
      kind: 'call',
      title: `${k.kind === 'call' ? `Call, attempt ${k.attempt}` : `${k.kind[0]!.toUpperCase()}${k.kind.slice(1)} task`}: ${
        k.outcome ? (OUTCOME_WORDS[k.outcome] ?? k.outcome) : 'closed'
      }`,
      detail: [purpose, who ? `by ${who}` : null].filter(Boolean).join(' · ') || null,
      body: k.notes,
    });
  }
  for (const n of notes) {
    const who = n.staffId ? names.get(n.staffId) : null;
    past.push({
      at: n.createdAt,
      kind: n.complaint ? 'complaint' : 'note',
      title: n.complaint ? 'Complaint' : 'Note',
      detail: who ? `by ${who}` : null,
      body: n.body,
    });
  }
  past.sort((a, b) => b.at.getTime() - a.at.getTime());

  const ahead = touches
    .filter((t) => t.status === 'scheduled' || t.status === 'queued')
    .map((t) => ({ at: t.dueAt, channel: t.channel, step: t.step, purpose: purposeOf(steps, t), status: t.status }));
  const scope = await scopeOf(ctx, viewer);
  const openTasks = tasks
    .filter((k) => k.status === 'open')
    .map((k) => ({
      id: k.id,
      kind: k.kind,
      dueAt: k.dueAt,
      attempt: k.attempt,
      assignee: k.assigneeId ? (names.get(k.assigneeId) ?? null) : null,
      mine: scope.all || (k.assigneeId !== null && scope.staffIds.includes(k.assigneeId)),
    }));
  return {
    customer,
    name: nameOf(customer),
    since: sales.reduce((min, s) => (s.soldAt < min ? s.soldAt : min), customer.createdAt),
    zone: customer.timezone ?? ctx.settings.defaultTimezone,
    tel: customer.phone ? customer.phone.replace(/[^\d+]/g, '') : null,
    preferenceLink: customerLinks(ctx.settings, customer, ctx.clock.now()).preferences,
    sales: sales.map((s) => ({ ...s, salesperson: s.salespersonId ? (names.get(s.salespersonId) ?? null) : null })),
    past,
    ahead,
    openTasks,
  };
}

/** SEARCH_LIMIT bounds a search's answer. */
const SEARCH_LIMIT = 50;

/**
 * searchCustomers finds the customers the viewer may see by name (the start of the first or last name, or "first
 * last"), email, phone or referral code.
 */
export async function searchCustomers(ctx: ServiceContext, viewer: Viewer, q: string): Promise<story.CustomerHit[]> {
  const text = q.trim().slice(0, 200);
  if (text.length < 2) return [];
  const scope = await scopeOf(ctx, viewer);
  const staffIds = scope.all ? null : scope.staffIds;
  if (staffIds && staffIds.length === 0) return [];
  const search: story.CustomerSearch = {};
  if (text.includes('@')) search.email = text;
  // Phones are stored in E.164 when they parse (issue 12): one typed as the till or the customer wrote it is read
  // the same way, in the default country when it has no country code; one that does not parse is looked up as typed.
  else if (/^[+(\d][\d\s().-]{5,}$/.test(text))
    search.phone = normalizePhone(text, ctx.settings.defaultCountry).key ?? text.replace(/[^\d+]/g, '');
  else {
    const words = text.split(/\s+/);
    search.referralCode = text;
    search.firstPrefix = words[0];
    if (words.length > 1) search.lastPrefix = words.slice(1).join(' ');
  }
  return story.searchCustomers(ctx.db, search, staffIds, SEARCH_LIMIT);
}
