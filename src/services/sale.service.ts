/**
 * Recording a sale: match or create the customer and salesperson, place the sale in a segment, and store the sale
 * with its first-year plan in one transaction. A replay returns the first answer; a reused id with another body is
 * a conflict; a repeat sale during a running first-year plan starts no second plan.
 *
 * Sales by new customers that arrive together are recorded together (group commit, recordSaleBatch): one
 * transaction of five statements for the whole batch. Every other case, and every sale of a batch that fails, goes
 * through the single-sale path (recordSingleSale), which remains the one definition of the rules above.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../domain/canonical-json';
import { contactPointsOf } from '../domain/channel';
import { matchCustomer } from '../domain/identity';
import { computePlan } from '../domain/plan';
import {
  applySaleContact,
  callRolesOf,
  mailWarnings,
  planFirstYear,
  saleAnswer,
  type SaleAnswer,
  type SaleWarning,
} from '../domain/sale-rules';
import type { PlanStep, Segment, StaffRole } from '../domain/types';
import type { Database } from '../db/database';
import * as customers from '../db/repositories/customer.repository';
import * as plans from '../db/repositories/plan.repository';
import * as sales from '../db/repositories/sale.repository';
import * as intake from '../db/repositories/sale-intake.repository';
import * as batchRepo from '../db/repositories/sale-batch.repository';
import { batchKey } from '../db/repositories/sale-batch.repository';
import * as segmentsRepo from '../db/repositories/segment.repository';
import * as staffRepo from '../db/repositories/staff.repository';
import * as referrals from '../db/repositories/referral.repository';
import { audit } from '../db/repositories/access.repository';
import { ConflictError } from './errors';
import { isUniqueViolation, retryTransient, type ServiceContext } from './context';
import { checkSaleSemantics, normalizeSaleCustomer, type NormalizedCustomer, type SaleInput } from './sale-input';
import { placeSale, usableSegment } from './segment.service';
import { createBatcher } from './batcher';

/** SaleResponse is the answer to POST /v1/sales, stored and returned as-is to replays (domain/sale-rules.ts). */
export type SaleResponse = SaleAnswer;

/** SaleOutcome is the answer and whether it was created now (201) or replayed (200). */
export interface SaleOutcome {
  created: boolean;
  response: SaleResponse;
}

/** hashSale is a stable hash of a sale's content, independent of key order. */
export function hashSale(input: SaleInput): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}

/** recordSale stores a validated sale and its plan, or returns the stored answer for a replay. */
export async function recordSale(ctx: ServiceContext, input: SaleInput, actor = 'api'): Promise<SaleOutcome> {
  const now = ctx.clock.now();
  checkSaleSemantics(input, now);
  const requestHash = hashSale(input);
  // A referral credits another customer, with reads and writes of its own: only the single-sale path does that.
  const batcher = input.referralCode ? null : ctx.saleBatcher;
  if (batcher) {
    const batched = await batcher({ input, requestHash, now, actor });
    if (batched) return batched;
  }
  return recordSingleSale(ctx, input, requestHash, now, actor);
}

/** TRANSIENT_RETRY_DELAYS_MS are the pauses before a sale is tried again after a transient database error. */
const TRANSIENT_RETRY_DELAYS_MS = [50, 250, 1000];

/**
 * recordSingleSale records one sale in its own transaction. It is the one source of truth for every case: the
 * batch takes only new customers' first sales, and hands everything else (and everything of a failed batch) here.
 */
async function recordSingleSale(
  ctx: ServiceContext,
  input: SaleInput,
  requestHash: string,
  now: Date,
  actor: string,
): Promise<SaleOutcome> {
  // A deadlock or a lost connection (a Postgres restart) passes when tried again after a pause; a sale committed just
  // before the loss is then found and answered as a replay (200 with the same body).
  const attempt = () =>
    retryTransient(TRANSIENT_RETRY_DELAYS_MS, () =>
      ctx.db.transaction().execute((trx) => recordSaleIn(trx, ctx, input, requestHash, now, actor)),
    );
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      // A concurrent request for the same sale or customer won the race: run again to see what it stored.
      if (tries < 3 && isUniqueViolation(err)) continue;
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

/**
 * segmentCache keeps each database's segment list with the version it was read at; every sale reads the version
 * in the same round trip as its replay check, so an edited segment is seen by the very next sale, in any process.
 */
const segmentCache = new WeakMap<Database, { version: string; segments: Segment[] }>();

async function segmentsAt(ctx: ServiceContext, trx: Database, version: string): Promise<Segment[]> {
  const cached = segmentCache.get(ctx.db);
  if (cached && cached.version === version) return cached.segments;
  const segments = await segmentsRepo.listSegments(trx);
  segmentCache.set(ctx.db, { version, segments });
  return segments;
}

// The intake is the hottest path: every read and write below is counted in round trips (see BENCHMARKS.md).
// A new customer's sale takes four: replay check with the segments' version, staff, customer match, and one write.
async function recordSaleIn(
  trx: Database,
  ctx: ServiceContext,
  input: SaleInput,
  requestHash: string,
  now: Date,
  actor: string,
): Promise<SaleOutcome> {
  const { existing, segmentsVersion } = await intake.findSaleKeyAndSegmentsVersion(trx, input.source, input.externalId);
  if (existing) return replayOf(existing, requestHash, input);

  const { segment, warning } = placeSale(await segmentsAt(ctx, trx, segmentsVersion), {
    source: input.source,
    totalAmount: input.total.amount,
    items: input.items,
  });
  const staff = await intake.findStaffForSale(trx, input.salesperson ?? null, callRolesOf(segment.plan));
  const salesperson = staff.salesperson;
  const saleId = intake.newId();
  const customer = await matchCustomerOfSale(trx, ctx, input, segment, now);
  const soldAt = new Date(input.soldAt);

  const running = customer.isNew ? null : await plans.findActiveFirstYearRun(trx, customer.record.id);
  const plan = running
    ? await repeatDuringPlan(trx, customer, await plans.listTouchesOfRun(trx, running.id), running.plan)
    : await startFirstYear(trx, ctx, { customer, segment, staff, saleId, soldAt, now });
  const { write, response } = saleWriteOf({
    input,
    requestHash,
    now,
    actor,
    customer: customer.record,
    isNew: customer.isNew,
    segment,
    salesperson,
    saleId,
    soldAt,
    plan,
    possibleDuplicate: customer.possibleDuplicate,
    repeat: Boolean(running),
    warning,
  });
  await intake.writeSales(trx, [write]);
  if (input.referralCode)
    await creditReferral(trx, ctx, {
      saleId,
      buyerId: customer.record.id,
      code: input.referralCode,
      at: soldAt,
      now,
      actor,
    });
  return { created: true, response };
}

/** QueuedSale is a checked sale waiting for a batch. */
export interface QueuedSale {
  input: SaleInput;
  requestHash: string;
  now: Date;
  actor: string;
}

/** SaleBatcher records a queued sale with the others of its batch: its outcome, or null for the single-sale path. */
export type SaleBatcher = (sale: QueuedSale) => Promise<SaleOutcome | null>;

/**
 * createSaleBatcher builds the group commit of a process's sales over `ctx` (SALE_BATCH_SIZE, SALE_BATCHES_IN_FLIGHT),
 * or null when batching is off. The composition root builds it once and puts it in the context recordSale gets.
 */
export function createSaleBatcher(ctx: ServiceContext): SaleBatcher | null {
  const { saleBatchSize: maxBatch, saleBatchesInFlight: maxInFlight } = ctx.settings;
  if (maxBatch === 0) return null;
  return createBatcher((queued: QueuedSale[]) => recordSaleBatch(ctx, queued), { maxBatch, maxInFlight });
}

/** BATCH_ROLES are the call roles a batch looks up the holders of, whatever segments its sales fall in. */
const BATCH_ROLES = Object.keys({ executive: true, manager: true } satisfies Record<
  Exclude<StaffRole, 'salesperson'>,
  true
>) as StaffRole[];

/**
 * batchKeysOf names what a sale is known by and what its customer could be matched by: two sales of a batch sharing
 * one are kept apart, and a batch takes their advisory locks.
 */
function batchKeysOf(input: SaleInput, norm: NormalizedCustomer): string[] {
  const c = input.customer;
  const keys = [`sale:${batchKey(input.source, input.externalId)}`, ...customers.customerLockKeys(norm.identity)];
  if (c.externalId) keys.push(`external:${batchKey(input.source, c.externalId)}`);
  return keys;
}

/**
 * recordSaleBatch records, in one transaction of five statements whatever their number, the sales of a batch that
 * are a new customer's first sale by a known salesperson (or none): BEGIN, the advisory locks of all their sale
 * keys and their customers' external ids, emails and phones, one look-up, one write, COMMIT. The answer is the
 * outcome of each recorded sale and null for every other one, which the caller then records on its own: a replay or
 * conflict, an existing customer, a salesperson to create, a second sale of the batch sharing a sale or customer key
 * with an earlier one, and every sale of a batch whose transaction failed (e.g. a unique violation: another process
 * stored the same sale or customer meanwhile). Those run after this transaction has ended, so they see what it
 * stored.
 */
async function recordSaleBatch(ctx: ServiceContext, queued: QueuedSale[]): Promise<(SaleOutcome | null)[]> {
  const candidates: { q: QueuedSale; keys: string[]; norm: NormalizedCustomer }[] = [];
  const taken = new Set<string>();
  for (const q of queued) {
    const norm = normalizeSaleCustomer(q.input, ctx.settings.defaultCountry, ctx.settings.secret);
    const keys = batchKeysOf(q.input, norm);
    if (keys.some((k) => taken.has(k))) continue;
    for (const k of keys) taken.add(k);
    candidates.push({ q, keys, norm });
  }
  const outcomes = new Map<QueuedSale, SaleOutcome>();
  try {
    await ctx.db.transaction().execute(async (trx) => {
      // Sale and external keys too, not only emails and phones: two batches sharing one then wait for each other,
      // and the second sees the first's rows, instead of deadlocking or failing on a unique index.
      await customers.lockKeys(
        trx,
        candidates.flatMap((k) => k.keys),
      );
      const found = await batchRepo.lookUpBatch(trx, {
        saleKeys: candidates.map(({ q }) => ({ source: q.input.source, externalId: q.input.externalId })),
        customerExternalKeys: candidates.flatMap(({ q }) =>
          q.input.customer.externalId ? [{ source: q.input.source, externalId: q.input.customer.externalId }] : [],
        ),
        customerEmails: candidates.flatMap(({ norm }) => norm.identity.emailKey ?? []),
        customerPhones: candidates.flatMap(({ norm }) => norm.identity.phoneKey ?? []),
        correctedEmails: candidates.flatMap(({ norm }) => norm.identity.correctedEmail ?? []),
        correctedPhones: candidates.flatMap(({ norm }) => norm.identity.correctedPhone ?? []),
        salespersonEmails: [
          ...new Set(
            candidates.flatMap(({ q }) => (q.input.salesperson ? [q.input.salesperson.email.toLowerCase()] : [])),
          ),
        ],
        roles: BATCH_ROLES,
      });
      const segments = await segmentsAt(ctx, trx, found.segmentsVersion);
      const writes: intake.SaleWrite[] = [];
      for (const { q, norm } of candidates) {
        const { input, now } = q;
        const c = input.customer;
        const id = norm.identity;
        // Only a sale whose customer nobody could be is recorded here; any possible match takes the single path.
        if (found.existingSales.has(batchKey(input.source, input.externalId))) continue;
        if (c.externalId && found.matchedExternalKeys.has(batchKey(input.source, c.externalId))) continue;
        if (
          (id.emailKey && found.matchedEmails.has(id.emailKey)) ||
          (id.phoneKey && found.matchedPhones.has(id.phoneKey))
        )
          continue;
        if ([id.correctedEmail, id.correctedPhone].some((digest) => digest && found.matchedCorrections.has(digest)))
          continue;
        const salesperson = input.salesperson ? found.salespeople.get(input.salesperson.email.toLowerCase()) : null;
        if (salesperson === undefined) continue;

        const { segment, warning } = placeSale(segments, {
          source: input.source,
          totalAmount: input.total.amount,
          items: input.items,
        });
        const customer: MatchedCustomer = {
          record: intake.newCustomerRecord(
            { ...norm.contact, source: input.source, externalId: c.externalId, segmentId: segment.id },
            now,
          ),
          isNew: true,
          possibleDuplicate: null,
        };
        const saleId = intake.newId();
        const soldAt = new Date(input.soldAt);
        const plan = computeFirstYear(ctx, {
          customer,
          segment,
          staff: { salesperson, byRole: found.byRole },
          saleId,
          soldAt,
          now,
        });
        const { write, response } = saleWriteOf({
          ...q,
          customer: customer.record,
          isNew: true,
          segment,
          salesperson,
          saleId,
          soldAt,
          plan,
          possibleDuplicate: null,
          repeat: false,
          warning,
        });
        writes.push(write);
        outcomes.set(q, { created: true, response });
      }
      if (writes.length > 0) await intake.writeSales(trx, writes);
    });
  } catch (err) {
    ctx.log.warn({ err, sales: queued.length }, 'sale batch failed; recording its sales one by one');
    return queued.map(() => null);
  }
  ctx.log.debug({ sales: queued.length, written: outcomes.size }, 'sale batch written');
  return queued.map((q) => outcomes.get(q) ?? null);
}

/** MatchedCustomer is the sale's customer: an existing one (already updated) or a new one not yet written. */
interface MatchedCustomer {
  record: customers.Customer;
  isNew: boolean;
  /** What a phone-only match's sale said differently about the person, to record for clean-up. */
  possibleDuplicate: Record<string, unknown> | null;
}

/**
 * matchCustomerOfSale finds the sale's customer by the identity rules (domain/identity.ts) and applies the sale's
 * contact details to them (domain/sale-rules.ts applySaleContact), or makes a new customer, not yet written.
 */
async function matchCustomerOfSale(
  trx: Database,
  ctx: ServiceContext,
  input: SaleInput,
  segment: Segment,
  now: Date,
): Promise<MatchedCustomer> {
  const norm = normalizeSaleCustomer(input, ctx.settings.defaultCountry, ctx.settings.secret);
  const referrer = input.referralCode ? await customers.findCustomerByReferralCode(trx, input.referralCode) : null;
  await customers.lockCustomerKeys(trx, norm.identity);
  const match = matchCustomer(await customers.findCustomerCandidates(trx, norm.identity), norm.identity);
  if (!match) {
    const record = intake.newCustomerRecord(
      {
        ...norm.contact,
        source: input.source,
        externalId: input.customer.externalId,
        segmentId: segment.id,
        referredBy: referrer?.id,
      },
      now,
    );
    return { record, isNew: true, possibleDuplicate: null };
  }
  const applied = applySaleContact(ctx.settings.secret, match, norm.contact, {
    externalId: input.customer.externalId,
    referrerId: referrer?.id,
  });
  const record = await customers.updateCustomer(trx, match.customer.id, {
    ...applied.change,
    ...(applied.possibleDuplicate ? { needsCleanup: true } : {}),
  });
  return { record, isNew: false, possibleDuplicate: applied.possibleDuplicate as Record<string, unknown> | null };
}

/** PlanStart is what starting a customer's first-year plan needs. */
interface PlanStart {
  customer: MatchedCustomer;
  segment: Segment;
  staff: intake.StaffForSale;
  saleId: string;
  soldAt: Date;
  now: Date;
}

/** PlannedFirstYear is a first-year run and its touches, computed and ready for writeSales to store. */
interface PlannedFirstYear {
  run?: NonNullable<intake.SaleWrite['run']>;
  newTouches?: NonNullable<intake.SaleWrite['touches']>;
  touches: { id: string; step: number; channel: string; dueAt: Date; status: string }[];
  warnings: SaleWarning[];
}

/**
 * repeatDuringPlan is a repeat sale during a running first-year plan: it starts nothing, and its answer shows the
 * running plan and whether the customer can be reached by letter or email today.
 */
async function repeatDuringPlan(
  trx: Database,
  customer: MatchedCustomer,
  touches: PlannedFirstYear['touches'],
  steps: PlanStep[],
): Promise<PlannedFirstYear> {
  const warnings = mailWarnings(contactPointsOf(customer.record), steps);
  if (warnings.length > 0 && !customer.record.needsCleanup)
    customer.record = await customers.updateCustomer(trx, customer.record.id, { needsCleanup: true });
  return { touches, warnings };
}

/**
 * startFirstYear ends any later-years run of an existing customer and places them as the sale's dates say (the
 * first-year program, or the later years at once when the first year is over); a new customer needs no statement
 * here, as everything it gets is written with the sale.
 */
async function startFirstYear(trx: Database, ctx: ServiceContext, p: PlanStart): Promise<PlannedFirstYear> {
  const { segment, now } = p;
  const before = { ...p.customer.record };
  const planned = computeFirstYear(ctx, p);
  if (!p.customer.isNew) {
    // A sale by a customer in the later-years program starts them on a fresh first year.
    await plans.endActiveRuns(trx, before.id, 'later_year', 'completed', now, 'new_first_year_plan');
    const record = p.customer.record;
    if (
      before.program !== record.program ||
      before.segmentId !== segment.id ||
      before.needsCleanup !== record.needsCleanup
    ) {
      p.customer.record = await customers.updateCustomer(trx, record.id, {
        program: record.program,
        segmentId: segment.id,
        needsCleanup: record.needsCleanup,
      });
    }
  }
  return planned;
}

/**
 * computeFirstYear computes a first-year run and its touches without any I/O (domain/sale-rules.ts planFirstYear),
 * and sets the customer record's program and clean-up flag accordingly (a new customer's record is written with
 * them; an existing one's is updated by the caller).
 */
function computeFirstYear(ctx: ServiceContext, p: PlanStart): PlannedFirstYear {
  const { segment, soldAt, now } = p;
  const customer = p.customer.record;
  const planned = planFirstYear({
    soldAt,
    now,
    zone: customer.timezone ?? ctx.settings.defaultTimezone,
    segment,
    salesperson: p.staff.salesperson,
    byRole: p.staff.byRole,
    contact: contactPointsOf(customer),
    graceDays: ctx.settings.graceDays,
    newId: intake.newId,
  });
  customer.program = planned.program;
  customer.segmentId = segment.id;
  if (planned.needsCleanup) customer.needsCleanup = true;
  return {
    run: {
      id: intake.newId(),
      customerId: customer.id,
      saleId: p.saleId,
      segmentId: segment.id,
      kind: 'first_year',
      year: 1,
      plan: segment.plan,
      startedAt: soldAt,
      status: planned.runStatus,
    },
    newTouches: planned.touches,
    touches: planned.touches,
    warnings: planned.warnings,
  };
}

/** SaleToWrite is a sale whose customer, segment, staff and plan are settled, ready to be turned into rows. */
interface SaleToWrite {
  input: SaleInput;
  requestHash: string;
  now: Date;
  actor: string;
  customer: customers.Customer;
  isNew: boolean;
  segment: Segment;
  salesperson: staffRepo.StaffMember | null;
  saleId: string;
  soldAt: Date;
  plan: PlannedFirstYear;
  possibleDuplicate: Record<string, unknown> | null;
  /** A repeat sale during a running first-year plan: it starts nothing. */
  repeat: boolean;
  /** placeSale's warning, given in the answer. */
  warning?: string;
}

/** saleWriteOf builds the stored answer and the rows of a sale, for writeSales. */
function saleWriteOf(w: SaleToWrite): { write: intake.SaleWrite; response: SaleResponse } {
  const { input, customer, segment, saleId } = w;
  const response: SaleResponse = saleAnswer({
    saleId,
    customerId: customer.id,
    segment,
    touches: w.plan.touches,
    warnings: [...(w.warning ? [w.warning] : []), ...w.plan.warnings],
  });
  const write: intake.SaleWrite = {
    customer: w.isNew ? customer : undefined,
    sale: {
      id: saleId,
      source: input.source,
      externalId: input.externalId,
      customerId: customer.id,
      salespersonId: w.salesperson?.id ?? null,
      segmentId: segment.id,
      soldAt: w.soldAt,
      totalAmount: input.total.amount,
      currency: input.total.currency,
      referralCode: input.referralCode ?? null,
      requestHash: w.requestHash,
      items: input.items,
      response,
    },
    run: w.plan.run,
    touches: w.plan.newTouches,
    possibleDuplicate: w.possibleDuplicate,
    audit: {
      actor: w.actor,
      action: w.repeat ? 'sale.recorded_repeat' : 'sale.recorded',
      entity: 'sale',
      entityId: saleId,
      detail: { customerId: customer.id, segmentId: segment.id },
      at: w.now,
    },
    at: w.now,
  };
  return { write, response };
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
 * creditReferral credits a stored sale to the owner of its referral code (never the buyer themselves) and gives the
 * referrer a thank-you touch for each `trigger: 'referral'` step of their segment's plan, due that step's offset
 * after the referred sale. An unknown code credits nobody and does not fail the sale. Kept apart from the intake's
 * counted round trips: only sales that carry a code pay for it.
 */
async function creditReferral(trx: Database, ctx: ServiceContext, e: ReferralEvent): Promise<void> {
  const referrer = await customers.findCustomerByReferralCode(trx, e.code);
  if (!referrer || referrer.id === e.buyerId || referrer.erasedAt) return;
  await referrals.setSaleReferrer(trx, e.saleId, referrer.id);
  await audit(trx, {
    actor: e.actor,
    action: 'referral.credited',
    entity: 'customer',
    entityId: referrer.id,
    detail: { saleId: e.saleId, customerId: e.buyerId },
    at: e.now,
  });
  const stored = referrer.segmentId ? await segmentsRepo.findSegment(trx, referrer.segmentId) : null;
  const segment = stored ? usableSegment(stored) : null;
  const steps = (segment?.plan ?? []).filter((s) => s.trigger === 'referral');
  if (!segment || steps.length === 0) return;
  const salespersonId = await referrals.latestSalespersonOf(trx, referrer.id);
  const salesperson = salespersonId ? await staffRepo.findStaffById(trx, salespersonId) : null;
  for (const step of steps) {
    const caller =
      step.channel === 'call' && step.assignee && step.assignee !== 'salesperson'
        ? await staffRepo.findFirstActiveByRole(trx, step.assignee)
        : null;
    const [planned] = computePlan({
      soldAt: e.at,
      now: e.now,
      zone: referrer.timezone ?? ctx.settings.defaultTimezone,
      steps: [{ ...step, trigger: undefined }],
      sendWindow: segment.sendWindow,
      callDays: (caller ?? salesperson)?.workingDays ?? [1, 2, 3, 4, 5],
      callStart: (caller ?? salesperson)?.workStart,
      graceDays: ctx.settings.graceDays,
      contact: contactPointsOf(referrer),
    });
    const runId = await referrals.insertReferralRun(trx, {
      customerId: referrer.id,
      segmentId: segment.id,
      step,
      startedAt: e.at,
    });
    await plans.insertTouches(
      trx,
      { id: runId, customerId: referrer.id },
      [{ ...planned, assigneeId: (caller ?? salesperson)?.id ?? null }],
      e.now,
    );
  }
}
