/**
 * Everything a channel needs to deliver one touch: the customer, the step of the plan the run was given, the sale
 * that started it, who signs or calls, and the template variables. Loaded once per delivery.
 */
import { DateTime } from 'luxon';
import type { PlanStep, StaffRole } from '../domain/types';
import type { Database } from '../db/database';
import type { Customer } from '../db/repositories/customer.repository';
import type { SaleRecord } from '../db/repositories/sale.repository';
import { loadTouchContextRows, type TouchContextRows } from '../db/repositories/touch-context.repository';
import { findFirstActiveByRole, findStaffById, type StaffMember } from '../db/repositories/staff.repository';
import { loadPeople } from '../db/repositories/task.repository';
import { chooseAssignee } from '../domain/call-task';
import { getBusinessIdentity, type BusinessIdentity } from './business-identity.service';
import type { LeasedTouch } from '../db/repositories/touch-lifecycle.repository';
import type { MessageContext } from '../channels/templates';
import type { Segment, SegmentContent } from '../domain/types';
import { customerLinks } from './customer-link';
import type { ServiceContext } from './context';

/** TouchContext is a touch with what its delivery needs. */
export interface TouchContext {
  touch: LeasedTouch;
  customer: Customer;
  step: PlanStep | null;
  segment: Segment | null;
  sale: SaleRecord | null;
  /** Who signs the letter or email, or makes the call; null means the business itself. */
  sender: StaffMember | null;
  zone: string;
  identity: BusinessIdentity;
  message: MessageContext;
}

/**
 * resolveStaff returns an active person for a role: the given person when still active, else their manager, else
 * the first active person with the fallback role (an executive for the anniversary call), else null.
 */
export async function resolveStaff(
  db: Database,
  preferredId: string | null,
  role: StaffRole | null,
): Promise<StaffMember | null> {
  let person = preferredId ? await findStaffById(db, preferredId) : null;
  for (let hops = 0; person && !person.active && hops < 5; hops++) {
    person = person.managerId ? await findStaffById(db, person.managerId) : null;
  }
  if (person?.active) return person;
  return role ? findFirstActiveByRole(db, role) : null;
}

// Building an Intl.NumberFormat costs far more than formatting with one, and every delivery formats a total.
const moneyFormats = new Map<string, Intl.NumberFormat>();

function formatMoney(amount: string, currency: string): string {
  try {
    let format = moneyFormats.get(currency);
    if (!format) {
      format = new Intl.NumberFormat('en', { style: 'currency', currency });
      moneyFormats.set(currency, format);
    }
    return format.format(Number(amount));
  } catch {
    return `${currency} ${amount}`;
  }
}

/** MessageParts are what a message context is built from. */
export interface MessageParts {
  identity: BusinessIdentity;
  customer: Customer;
  sale: SaleRecord | null;
  /** The person who signs; null signs as the business itself (newsletters). */
  sender: StaffMember | null;
  zone: string;
  segment?: Segment | null;
  channel: 'email' | 'letter' | 'newsletter';
}

/** oneLineAddress writes a postal address on one line, e.g. "12 Shop St, Sydney NSW 2000". */
export function oneLineAddress(a: BusinessIdentity['address']): string | null {
  if (!a) return null;
  const locality = [a.city, a.region, a.postalCode].filter(Boolean).join(' ');
  return [...a.lines, locality].filter((p) => p && p.trim() !== '').join(', ');
}

/** businessVars are the business's template variables. */
export function businessVars(identity: BusinessIdentity): MessageContext['business'] {
  return {
    name: identity.name ?? '',
    phone: identity.phone,
    website: identity.website,
    address: oneLineAddress(identity.address),
  };
}

/** senderVars are the signer's template variables: a person (their phone, else the business's) or the business. */
export function senderVars(
  identity: BusinessIdentity,
  sender: Pick<StaffMember, 'name' | 'title' | 'phone'> | null,
): MessageContext['sender'] {
  if (!sender)
    return {
      name: identity.name ?? '',
      firstName: identity.name ?? '',
      title: null,
      phone: identity.phone,
      isBusiness: true,
    };
  return {
    name: sender.name,
    firstName: sender.name.split(/\s+/)[0],
    title: sender.title,
    phone: sender.phone || identity.phone,
  };
}

/** buildMessageContext assembles the template variables for one customer, in the business's voice. */
export function buildMessageContext(ctx: ServiceContext, m: MessageParts): MessageContext {
  const { customer, sale, zone, identity } = m;
  const links = customerLinks(ctx.settings, customer, ctx.clock.now());
  return {
    customer: {
      firstName: customer.firstName ?? '',
      lastName: customer.lastName ?? '',
      referralCode: customer.referralCode,
    },
    sale: {
      mainItem: sale?.items[0]?.name ?? 'purchase',
      items: (sale?.items ?? []).map((i) => ({
        name: i.name ?? '',
        quantity: i.quantity,
        sku: i.sku ?? undefined,
        category: i.category ?? undefined,
      })),
      total: sale ? formatMoney(sale.total.amount, sale.total.currency) : '',
      soldAt: sale ? DateTime.fromJSDate(sale.soldAt, { zone }).toFormat('d MMMM yyyy') : '',
    },
    sender: senderVars(identity, m.sender),
    business: businessVars(identity),
    content: segmentContent(m.segment ?? null),
    channel: m.channel,
    links: m.channel === 'letter' ? { preferences: links.preferences, unsubscribe: null } : links,
    signature: identity.signature,
    logoUrl: identity.logo ? `${ctx.settings.publicUrl}/brand/logo` : null,
  };
}

/** segmentContent returns a segment's content blocks, each "" when not written. */
export function segmentContent(segment: Segment | null): NonNullable<MessageContext['content']> {
  const c: SegmentContent = segment?.content ?? {};
  return { careTips: c.careTips ?? '', whatsNew: c.whatsNew ?? '', serviceOffer: c.serviceOffer ?? '' };
}

/**
 * chooseSender names who signs a letter or email, or makes a call, by the step's role, with the same rule the call
 * tasks use (chooseAssignee): the named person while active and in that role, else the first active person in it,
 * else the salesperson (or their manager when they left).
 */
export async function chooseSender(
  db: Database,
  role: StaffRole,
  preferredId: string | null,
  salespersonId: string | null,
): Promise<StaffMember | null> {
  // A salesperson a sale created (pending) signs their own customers' letters and emails, as loadTouchContext has
  // them do; only their call tasks wait for a confirmation (loadPeople counts them out).
  if (role === 'salesperson' && preferredId) {
    const named = await findStaffById(db, preferredId);
    if (named?.active && named.pending) return named;
  }
  const { people, fallbacks } = await loadPeople(db, [preferredId, salespersonId]);
  const choice = chooseAssignee({ stepRole: role, preferredId, salespersonId, people, fallbacks });
  return choice.assigneeId ? findStaffById(db, choice.assigneeId) : null;
}

/** TouchRowsLoader reads the context rows of one touch; the worker's gathers concurrent deliveries into one statement. */
export type TouchRowsLoader = (touchId: string) => Promise<TouchContextRows | null>;

/**
 * loadTouchContext loads a leased touch's customer, step, sale and sender; null when the customer is gone. One
 * statement reads the customer, run, sale, segment and the named person (the hot path of every delivery).
 */
export async function loadTouchContext(
  ctx: ServiceContext,
  touch: LeasedTouch,
  loadRows: TouchRowsLoader = async (id) => (await loadTouchContextRows(ctx.db, [id]))[0] ?? null,
): Promise<TouchContext | null> {
  const rows = await loadRows(touch.id);
  if (!rows) return null;
  const { customer, run, sale, segment } = rows;
  const step = run?.plan.find((s) => s.step === touch.step) ?? null;
  const role = (step?.sender ?? step?.assignee ?? touch.senderRole ?? 'salesperson') as StaffRole;
  const salespersonId = sale?.salespersonId ?? null;
  const preferred = touch.assigneeId ?? salespersonId;
  // The salesperson already read is the answer when still active; another role, or someone who left, is chosen by
  // the rule every step shares.
  const sender =
    role === 'salesperson' && preferred && rows.staff?.id === preferred && rows.staff.active
      ? rows.staff
      : await chooseSender(ctx.db, role, preferred, salespersonId);
  const zone = customer.timezone ?? ctx.settings.defaultTimezone;
  const identity = await getBusinessIdentity(ctx);
  const channel = touch.channel === 'letter' ? 'letter' : touch.channel === 'newsletter' ? 'newsletter' : 'email';
  return {
    touch,
    customer,
    step,
    segment,
    sale,
    sender,
    zone,
    identity,
    message: buildMessageContext(ctx, { identity, customer, sale, sender, zone, segment, channel }),
  };
}
