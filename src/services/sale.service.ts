/**
 * Recording a sale: match or create the customer and salesperson, place the sale in a segment, and store the sale
 * with its first-year plan in one transaction. A replay returns the first answer; a reused id with another body is
 * a conflict; a repeat sale during a running first-year plan starts no second plan.
 */
import { createHash } from 'node:crypto';
import { computePlan } from '../domain/plan';
import { chooseSegment } from '../domain/segment-match';
import type { PlanStep, Segment } from '../domain/types';
import type { Database } from '../db/database';
import * as customers from '../db/repositories/customer.repository';
import * as plans from '../db/repositories/plan.repository';
import * as sales from '../db/repositories/sale.repository';
import * as segmentsRepo from '../db/repositories/segment.repository';
import * as staffRepo from '../db/repositories/staff.repository';
import { audit } from '../db/repositories/access.repository';
import * as referrals from '../db/repositories/referral.repository';
import { ConflictError } from './errors';
import { isUniqueViolation, type ServiceContext } from './context';
import { checkSaleSemantics, type SaleInput } from './sale-input';

/** SaleResponse is the answer to POST /v1/sales, stored and returned as-is to replays. */
export interface SaleResponse {
  sale: { id: string };
  customer: { id: string };
  segment: { id: string; name: string };
  touches: { id: string; step: number; channel: string; dueAt: string; status: string }[];
}

/** SaleOutcome is the answer and whether it was created now (201) or replayed (200). */
export interface SaleOutcome {
  created: boolean;
  response: SaleResponse;
}

/** hashSale is a stable hash of a sale's content, independent of key order. */
export function hashSale(input: SaleInput): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** recordSale stores a validated sale and its plan, or returns the stored answer for a replay. */
export async function recordSale(ctx: ServiceContext, input: SaleInput, actor = 'api'): Promise<SaleOutcome> {
  const now = ctx.clock.now();
  checkSaleSemantics(input, now);
  const requestHash = hashSale(input);
  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.db.transaction().execute((trx) => recordSaleIn(trx, ctx, input, requestHash, now, actor));
    } catch (err) {
      // A concurrent request for the same sale or customer won the race: run again to see what it stored.
      if (attempt < 3 && isUniqueViolation(err)) continue;
      throw err;
    }
  }
}

function replayOf(existing: sales.StoredSaleKey, requestHash: string, input: SaleInput): SaleOutcome {
  if (existing.requestHash !== requestHash) {
    throw new ConflictError(`sale ${input.source}/${input.externalId} was already posted with a different body`, {
      field: 'externalId',
    });
  }
  return { created: false, response: existing.response as SaleResponse };
}

async function recordSaleIn(
  trx: Database,
  ctx: ServiceContext,
  input: SaleInput,
  requestHash: string,
  now: Date,
  actor: string,
): Promise<SaleOutcome> {
  const existing = await sales.findSaleByKey(trx, input.source, input.externalId);
  if (existing) return replayOf(existing, requestHash, input);

  const segment = chooseSegment(await segmentsRepo.listSegments(trx), {
    source: input.source,
    totalAmount: input.total.amount,
    items: input.items,
  });
  const salesperson = input.salesperson
    ? await staffRepo.findOrCreateSalesperson(trx, input.salesperson.email, input.salesperson.name)
    : null;
  const customer = await upsertCustomer(trx, input, segment);
  const soldAt = new Date(input.soldAt);
  const saleId = await sales.insertSale(trx, {
    source: input.source,
    externalId: input.externalId,
    customerId: customer.id,
    salespersonId: salesperson?.id ?? null,
    segmentId: segment.id,
    soldAt,
    totalAmount: input.total.amount,
    currency: input.total.currency,
    referralCode: input.referralCode ?? null,
    requestHash,
    items: input.items,
  });
  if (input.referralCode) await creditReferral(trx, ctx, { saleId, buyerId: customer.id, code: input.referralCode, at: soldAt, now, actor });

  const running = await plans.findActiveFirstYearRun(trx, customer.id);
  const touches = running
    ? await plans.listTouchesOfRun(trx, running.id)
    : await startFirstYearPlan(trx, ctx, { customer, segment, salesperson, saleId, soldAt, now });

  const response: SaleResponse = {
    sale: { id: saleId },
    customer: { id: customer.id },
    segment: { id: segment.id, name: segment.name },
    touches: touches.map((t) => ({ id: t.id, step: t.step, channel: t.channel, dueAt: t.dueAt.toISOString(), status: t.status })),
  };
  await sales.setSaleResponse(trx, saleId, response);
  await audit(trx, {
    actor,
    action: running ? 'sale.recorded_repeat' : 'sale.recorded',
    entity: 'sale',
    entityId: saleId,
    detail: { customerId: customer.id, segmentId: segment.id },
    at: now,
  });
  return { created: true, response };
}

async function upsertCustomer(trx: Database, input: SaleInput, segment: Segment): Promise<customers.Customer> {
  const c = input.customer;
  const contact: customers.ContactFields = {
    firstName: c.firstName,
    lastName: c.lastName,
    email: c.email,
    phone: c.phone,
    timezone: c.timezone,
    preferredChannel: c.preferredChannel,
    address: c.address,
  };
  const referrer = input.referralCode ? await customers.findCustomerByReferralCode(trx, input.referralCode) : null;
  const found = await customers.findCustomerForSale(trx, { source: input.source, externalId: c.externalId, email: c.email, phone: c.phone });
  if (!found) {
    return customers.insertCustomer(trx, { ...contact, source: input.source, externalId: c.externalId, segmentId: segment.id, referredBy: referrer?.id });
  }
  // What the point-of-sale system sends now is the freshest contact data; a bounced address is fixed by a new one.
  const emailChanged = c.email !== undefined && c.email.toLowerCase() !== found.email?.toLowerCase();
  return customers.updateCustomer(trx, found.id, {
    ...contact,
    ...(emailChanged ? { emailStatus: 'ok' as const } : {}),
    ...(found.externalId == null && c.externalId ? { externalId: c.externalId } : {}),
    ...(found.referredBy == null && referrer && referrer.id !== found.id ? { referredBy: referrer.id } : {}),
  });
}

/** PlanStart is what starting a customer's first-year plan needs. */
interface PlanStart {
  customer: customers.Customer;
  segment: Segment;
  salesperson: staffRepo.StaffMember | null;
  saleId: string;
  soldAt: Date;
  now: Date;
}

/** startFirstYearPlan ends any later-years run, then stores a first-year run and its touches. */
async function startFirstYearPlan(trx: Database, ctx: ServiceContext, p: PlanStart): Promise<plans.Touch[]> {
  const { customer, segment, soldAt, now } = p;
  // A sale by a customer in the later-years program starts them on a fresh first year.
  await plans.endActiveRuns(trx, customer.id, 'later_year', 'completed', now, 'new_first_year_plan');
  if (customer.program !== 'first_year' || customer.segmentId !== segment.id) {
    await customers.updateCustomer(trx, customer.id, { program: 'first_year', segmentId: segment.id });
  }
  const runId = await plans.insertPlanRun(trx, {
    customerId: customer.id,
    saleId: p.saleId,
    segmentId: segment.id,
    kind: 'first_year',
    year: 1,
    plan: segment.plan,
    startedAt: soldAt,
  });
  const assignees = await resolveAssignees(trx, segment.plan, p.salesperson);
  const planned = computePlan({
    soldAt,
    now,
    zone: customer.timezone ?? ctx.settings.defaultTimezone,
    steps: segment.plan,
    sendWindow: segment.sendWindow,
    callDays: p.salesperson?.workingDays ?? [1, 2, 3, 4, 5],
    callStart: p.salesperson?.workStart,
    graceDays: ctx.settings.graceDays,
    contact: {
      email: customer.email,
      emailBounced: customer.emailStatus === 'bounced',
      emailOptOut: customer.emailOptOut,
      address: customer.address,
      preferredChannel: customer.preferredChannel,
      doNotContact: customer.doNotContact,
    },
  });
  if (planned.some((t) => t.reason === 'no_address') && !customer.needsCleanup) {
    await customers.updateCustomer(trx, customer.id, { needsCleanup: true });
  }
  return plans.insertTouches(
    trx,
    { id: runId, customerId: customer.id },
    planned.map((t) => ({ ...t, assigneeId: t.channel === 'call' ? assignees.get(t.step) ?? null : p.salesperson?.id ?? null })),
    now,
  );
}

/**
 * resolveAssignees names who makes each call step: the role the step asks for (an executive for the anniversary),
 * else the salesperson; a salesperson who left is replaced by their manager.
 */
async function resolveAssignees(trx: Database, steps: PlanStep[], salesperson: staffRepo.StaffMember | null): Promise<Map<number, string>> {
  const byRole = new Map<string, staffRepo.StaffMember | null>();
  const result = new Map<number, string>();
  for (const step of steps.filter((s) => s.channel === 'call')) {
    const role = step.assignee ?? 'salesperson';
    if (!byRole.has(role)) byRole.set(role, role === 'salesperson' ? null : await staffRepo.findFirstActiveByRole(trx, role));
    const person = byRole.get(role) ?? salesperson;
    if (person) result.set(step.step, person.id);
  }
  return result;
}

/** ReferralEvent is a sale posted with a referral code. */
interface ReferralEvent {
  saleId: string;
  buyerId: string;
  code: string;
  at: Date;
  now: Date;
  actor: string;
}

/**
 * creditReferral credits a sale to the owner of its referral code (never the buyer themselves) and gives the
 * referrer a thank-you touch for each `trigger: 'referral'` step of their segment's plan, due that step's offset
 * after the referred sale. An unknown code credits nobody and does not fail the sale.
 */
async function creditReferral(trx: Database, ctx: ServiceContext, e: ReferralEvent): Promise<void> {
  const referrer = await customers.findCustomerByReferralCode(trx, e.code);
  if (!referrer || referrer.id === e.buyerId || referrer.erasedAt) return;
  await referrals.setSaleReferrer(trx, e.saleId, referrer.id);
  await audit(trx, { actor: e.actor, action: 'referral.credited', entity: 'customer', entityId: referrer.id, detail: { saleId: e.saleId, customerId: e.buyerId }, at: e.now });
  const segment = referrer.segmentId ? await segmentsRepo.findSegment(trx, referrer.segmentId) : null;
  const steps = (segment?.plan ?? []).filter((s) => s.trigger === 'referral');
  if (!segment || steps.length === 0) return;
  const salespersonId = await referrals.latestSalespersonOf(trx, referrer.id);
  const salesperson = salespersonId ? await staffRepo.findStaffById(trx, salespersonId) : null;
  for (const step of steps) {
    const caller = step.channel === 'call' && step.assignee && step.assignee !== 'salesperson' ? await staffRepo.findFirstActiveByRole(trx, step.assignee) : null;
    const [planned] = computePlan({
      soldAt: e.at,
      now: e.now,
      zone: referrer.timezone ?? ctx.settings.defaultTimezone,
      steps: [{ ...step, trigger: undefined }],
      sendWindow: segment.sendWindow,
      callDays: (caller ?? salesperson)?.workingDays ?? [1, 2, 3, 4, 5],
      callStart: (caller ?? salesperson)?.workStart,
      graceDays: ctx.settings.graceDays,
      contact: {
        email: referrer.email,
        emailBounced: referrer.emailStatus === 'bounced',
        emailOptOut: referrer.emailOptOut,
        address: referrer.address,
        preferredChannel: referrer.preferredChannel,
        doNotContact: referrer.doNotContact,
      },
    });
    const runId = await referrals.insertReferralRun(trx, { customerId: referrer.id, segmentId: segment.id, step, startedAt: e.at });
    await plans.insertTouches(trx, { id: runId, customerId: referrer.id }, [{ ...planned, assigneeId: (caller ?? salesperson)?.id ?? null }], e.now);
  }
}
