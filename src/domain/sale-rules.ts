/**
 * The rules of a sale, once: what a sale's contact details do to its customer, who calls and signs, the first-year
 * plan (or its place in the later years when the first year is already over) and the answer. Pure: every path a sale
 * arrives by (POST /v1/sales one by one or batched, an import) calls these and differs only in how sales arrive.
 */
import { chooseMailChannel } from './channel';
import { screenSaleContact, type ContactCorrections } from './contact-corrections';
import { emailKey, weakMatchConflict, type CustomerMatch, type IdentityFields } from './identity';
import { computePlan, type CallerCalendar } from './plan';
import { addOffset } from './schedule';
import type { Address, ContactPoints, PlannedTouch, PlanStep, Segment, StaffRole } from './types';

/** SaleContact is what a sale says about its customer, normalised (trimmed email, E.164 phone where it parses). */
export interface SaleContact {
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  /** The phone as the till wrote it, kept for display. */
  phoneDisplay?: string;
  timezone?: string;
  preferredChannel?: 'email' | 'letter';
  address?: Address;
}

/** KnownCustomer is what applying a sale needs of the matched customer. */
export interface KnownCustomer {
  id: string;
  externalId: string | null;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  referredBy: string | null;
  contactCorrections: ContactCorrections;
}

/** ContactChange is what a sale changes on its matched customer (only the fields given are set). */
export interface ContactChange extends SaleContact {
  emailStatus?: 'ok';
  externalId?: string;
  referredBy?: string;
  contactCorrections?: ContactCorrections;
}

/** AppliedSale is the change to make and, for a weak match that disagreed, what to record as a possible duplicate. */
export interface AppliedSale {
  change: ContactChange;
  possibleDuplicate: IdentityFields | null;
}

/**
 * applySaleContact decides what a sale changes on the customer it matched: the till's details are fresh, except
 * what the customer has since corrected themselves (and the till still sends as before); a new email resets a
 * bounce; an externalId or referrer is filled in where missing. A match by phone alone that disagrees about the
 * email or name changes nothing and is recorded as a possible duplicate.
 */
export function applySaleContact(
  secret: string,
  match: CustomerMatch<KnownCustomer>,
  contact: SaleContact,
  extra: { externalId?: string | null; referrerId?: string | null },
): AppliedSale {
  const found = match.customer;
  if (match.by === 'phone') {
    const conflict = weakMatchConflict(found, contact);
    if (conflict) return { change: {}, possibleDuplicate: conflict };
  }
  const { phoneDisplay, ...correctable } = contact;
  const screened = screenSaleContact(secret, correctable, found.contactCorrections);
  const change: ContactChange = { ...screened.contact };
  if (change.phone !== undefined) change.phoneDisplay = phoneDisplay ?? change.phone;
  if (screened.changed) change.contactCorrections = screened.corrections;
  if (change.email !== undefined && emailKey(change.email) !== emailKey(found.email)) change.emailStatus = 'ok';
  if (found.externalId == null && extra.externalId) change.externalId = extra.externalId;
  if (found.referredBy == null && extra.referrerId && extra.referrerId !== found.id)
    change.referredBy = extra.referrerId;
  return { change, possibleDuplicate: null };
}

/** StaffMemberForPlan is what planning needs of a person who calls or signs. */
export interface StaffMemberForPlan {
  id: string;
  workingDays: number[];
  workStart: string;
}

/**
 * chooseCallers names who makes each call step: the role the step asks for (an executive for the anniversary), else
 * the salesperson. Letters and emails are signed by the step's `sender` role, resolved when they go out; their touch
 * names the salesperson.
 */
export function chooseCallers<P extends StaffMemberForPlan>(
  steps: readonly PlanStep[],
  salesperson: P | null,
  byRole: ReadonlyMap<StaffRole, P | null>,
): Map<number, P> {
  const result = new Map<number, P>();
  for (const step of steps) {
    if (step.channel !== 'call') continue;
    const role = step.assignee ?? 'salesperson';
    const person = (role === 'salesperson' ? null : (byRole.get(role) ?? null)) ?? salesperson;
    if (person) result.set(step.step, person);
  }
  return result;
}

/** callRolesOf are the roles other than the salesperson that a plan's call steps are assigned to. */
export function callRolesOf(steps: readonly PlanStep[]): StaffRole[] {
  const roles = new Set<StaffRole>();
  for (const step of steps)
    if (step.channel === 'call' && step.assignee && step.assignee !== 'salesperson') roles.add(step.assignee);
  return [...roles];
}

/** SaleWarning is something the sender of a sale should know and act on, in words. */
export type SaleWarning = string;

/** UNREACHABLE_BY_MAIL is the warning of a sale whose customer no letter or email can reach today. */
export const UNREACHABLE_BY_MAIL =
  'customer: no usable email or postal address: letters and emails wait for one and are skipped if none has come by their due time; the customer is flagged for clean-up';

/** PlanOfSale is the first-year run a sale starts, placed as its dates say. */
export interface PlanOfSale {
  /** `completed` when the first anniversary is already behind: the customer is in the later-years program at once. */
  runStatus: 'active' | 'completed';
  program: 'first_year' | 'later_years';
  touches: (PlannedTouch & { id: string; assigneeId: string | null })[];
  /** The customer cannot be reached by letter or email: flagged for clean-up, and said in the answer. */
  needsCleanup: boolean;
  warnings: SaleWarning[];
}

/** FirstYearInput is everything a first-year plan depends on. */
export interface FirstYearInput<P extends StaffMemberForPlan> {
  soldAt: Date;
  now: Date;
  zone: string;
  segment: Pick<Segment, 'plan' | 'sendWindow'>;
  salesperson: P | null;
  byRole: ReadonlyMap<StaffRole, P | null>;
  contact: ContactPoints;
  graceDays: number;
  newId: () => string;
  /** The touches computePlan gives for exactly these inputs, when already computed (an import plans ahead). */
  computed?: PlannedTouch[];
}

/**
 * planFirstYear computes a sale's first-year plan: one touch per step with its due time and status, each call
 * assigned to its caller and each letter or email to the salesperson. A sale whose first anniversary has passed is
 * recorded complete (its steps missed or due per the grace period) and places the customer in the later years.
 */
export function planFirstYear<P extends StaffMemberForPlan>(p: FirstYearInput<P>): PlanOfSale {
  const callers = chooseCallers(p.segment.plan, p.salesperson, p.byRole);
  const callerCalendars = new Map<number, CallerCalendar>(
    [...callers].map(([step, person]) => [step, { days: person.workingDays, start: person.workStart }]),
  );
  const planned =
    p.computed ??
    computePlan({
      soldAt: p.soldAt,
      now: p.now,
      zone: p.zone,
      steps: p.segment.plan,
      sendWindow: p.segment.sendWindow,
      callDays: p.salesperson?.workingDays ?? [1, 2, 3, 4, 5],
      callStart: p.salesperson?.workStart,
      callerCalendars,
      graceDays: p.graceDays,
      contact: p.contact,
    });
  const pastFirstYear = addOffset(p.soldAt, p.zone, { years: 1 }).getTime() <= p.now.getTime();
  const warnings = mailWarnings(p.contact, p.segment.plan);
  return {
    runStatus: pastFirstYear ? 'completed' : 'active',
    program: pastFirstYear ? 'later_years' : 'first_year',
    touches: planned.map((t) => ({
      ...t,
      id: p.newId(),
      assigneeId: t.channel === 'call' ? (callers.get(t.step)?.id ?? null) : (p.salesperson?.id ?? null),
    })),
    needsCleanup: warnings.length > 0,
    warnings,
  };
}

/**
 * mailWarnings says when a customer with letter-or-email steps can be reached by neither today: the steps wait for
 * an address (the channel is decided again when each goes out) and the customer is flagged for clean-up.
 */
export function mailWarnings(contact: ContactPoints, steps: readonly PlanStep[]): SaleWarning[] {
  if (!steps.some((s) => s.channel === 'mail' && !s.trigger)) return [];
  const choice = chooseMailChannel(contact);
  if (choice.channel !== null || choice.reason !== 'no_address') return [];
  return [UNREACHABLE_BY_MAIL];
}

/** SaleAnswer is the answer to a recorded sale (POST /v1/sales), stored and returned as-is to replays. */
export interface SaleAnswer {
  sale: { id: string };
  customer: { id: string };
  segment: { id: string; name: string };
  touches: { id: string; step: number; channel: string; dueAt: string; status: string }[];
  /** Present only when there is something to say. */
  warnings?: SaleWarning[];
}

/** saleAnswer builds a sale's answer: its touches in step order, and warnings when there are any. */
export function saleAnswer(a: {
  saleId: string;
  customerId: string;
  segment: Pick<Segment, 'id' | 'name'>;
  touches: readonly { id: string; step: number; channel: string; dueAt: Date; status: string }[];
  warnings: readonly SaleWarning[];
}): SaleAnswer {
  return {
    sale: { id: a.saleId },
    customer: { id: a.customerId },
    segment: { id: a.segment.id, name: a.segment.name },
    touches: a.touches
      .slice()
      .sort((x, y) => x.step - y.step)
      .map((t) => ({ id: t.id, step: t.step, channel: t.channel, dueAt: t.dueAt.toISOString(), status: t.status })),
    ...(a.warnings.length > 0 ? { warnings: [...a.warnings] } : {}),
  };
}
