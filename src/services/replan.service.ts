/**
 * Re-planning: moving running first-year plans (a segment's, some customers', or everyone on version N) onto the
 * segment's current plan version. A dry run writes nothing and lists every customer and step that would change, with
 * counts by kind and fingerprints of the plan version and of each customer's stored plan; apply repeats the dry run
 * as of the same moment, refuses when any fingerprint differs, and otherwise makes exactly those changes, batch by
 * batch, each change on the customer's timeline and each customer in the audit trail.
 */
import { createHash, hash } from 'node:crypto';
import { canonicalJson } from '../domain/canonical-json';
import { contactPointsOf } from '../domain/channel';
import type { CallerCalendar } from '../domain/plan';
import { countChanges, replanChanges, type ReplanChange, type ReplanChangeKind } from '../domain/replan';
import type { PlanStep, SendWindow, StaffRole } from '../domain/types';
import type { Database } from '../db/database';
import { audit, type AuditEntry } from '../db/repositories/access.repository';
import * as lifecycle from '../db/repositories/touch-lifecycle.repository';
import * as versions from '../db/repositories/plan-version.repository';
import * as replans from '../db/repositories/replan.repository';
import * as segmentsRepo from '../db/repositories/segment.repository';
import * as staffRepo from '../db/repositories/staff.repository';
import { ConflictError, NotFoundError, ValidationError } from './errors';
import type { ServiceContext } from './context';
import { chooseCallers } from '../domain/sale-rules';

/** ReplanScope picks the running plans to move: a segment's, optionally only those on one version or some customers'. */
export interface ReplanScope {
  segmentId: string;
  fromVersion?: number;
  customerIds?: string[];
}

/** ReplanEntry is one customer whose plan would change, with the fingerprint of their stored plan. */
export interface ReplanEntry {
  customerId: string;
  runId: string;
  name: string;
  fromVersion: number | null;
  fingerprint: string;
  changes: ReplanChange[];
}

/** DryRun is what a re-plan would do, as of `asOf`. */
export interface DryRun {
  segmentId: string;
  toVersion: number;
  asOf: Date;
  planFingerprint: string;
  /** Over every running plan considered (changed or not), so apply notices any of them changing. */
  fingerprint: string;
  /** Running plans considered; all of them move to `toVersion` on apply. */
  considered: number;
  /** Customers with at least one change. */
  customers: number;
  counts: Record<ReplanChangeKind, number>;
  entries: ReplanEntry[];
}

/** ApplyInput is a dry run's scope and what it answered, which apply must find unchanged. */
export interface ApplyInput extends ReplanScope {
  asOf: Date;
  planFingerprint: string;
  fingerprint: string;
}

/** ApplyResult is what apply changed: the same list a dry run as of `asOf` gives, and how many plans it moved. */
export interface ApplyResult extends DryRun {
  moved: number;
  batches: number;
}

/** REPLAN_PAGE is how many running plans are read, computed and (on apply) written together. */
export const REPLAN_PAGE = 1000;

/** How many pages are read ahead of the one being computed. */
const PAGES_AHEAD = 2;

/** A dry run older than this is refused by apply: the moment it was computed for has passed too long ago. */
const MAX_DRY_RUN_AGE_MS = 60 * 60 * 1000;

/** Target is the version running plans move to. */
interface Target {
  segmentId: string;
  version: number;
  plan: PlanStep[];
  sendWindow: SendWindow;
  fingerprint: string;
}

/** StaffBook answers who makes a call and when they work. */
interface StaffBook {
  byId: Map<string, staffRepo.StaffMember>;
  byRole: Map<StaffRole, staffRepo.StaffMember | null>;
}

function planFingerprint(t: Omit<Target, 'fingerprint'>): string {
  return sha(canonicalJson({ segment: t.segmentId, version: t.version, plan: t.plan, sendWindow: t.sendWindow }));
}

function sha(s: string): string {
  return hash('sha256', s, 'base64url');
}

async function loadTarget(db: Database, segmentId: string): Promise<Target> {
  const segment = await segmentsRepo.findSegment(db, segmentId);
  if (!segment) throw new NotFoundError('segment', segmentId);
  const t = {
    segmentId,
    version: segment.planVersion ?? 1,
    plan: segment.plan,
    sendWindow: segment.sendWindow,
  };
  return { ...t, fingerprint: planFingerprint(t) };
}

async function loadStaff(db: Database): Promise<StaffBook> {
  const [all, executive, manager] = await Promise.all([
    staffRepo.listStaff(db),
    staffRepo.findFirstActiveByRole(db, 'executive'),
    staffRepo.findFirstActiveByRole(db, 'manager'),
  ]);
  return {
    byId: new Map(all.map((s) => [s.id, s])),
    byRole: new Map<StaffRole, staffRepo.StaffMember | null>([
      ['executive', executive],
      ['manager', manager],
    ]),
  };
}

function checkScope(scope: ReplanScope): void {
  // A version is a Postgres integer: a larger number (the console's form reads "1e308" as one) is no version.
  const v = scope.fromVersion;
  if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 2_147_483_647))
    throw new ValidationError('fromVersion', 'must be a version number (1 or more)');
  if (scope.customerIds && scope.customerIds.length === 0)
    throw new ValidationError('customerIds', 'must list at least one customer when given');
}

const calendarOf = (p: staffRepo.StaffMember): CallerCalendar => ({ days: p.workingDays, start: p.workStart });

/** Computed is one running plan's dry-run answer with what apply needs to write it. */
interface Computed {
  entry: ReplanEntry;
  run: replans.RunningPlan;
  touches: replans.RunTouch[];
  assignees: Map<number, staffRepo.StaffMember>;
  salesperson: staffRepo.StaffMember | null;
}

type PageInput = {
  scope: ReplanScope;
  target: Target;
  staff: StaffBook;
  asOf: Date;
  versionCache: Map<number, versions.PlanVersion | null>;
};

async function fetchPage(db: Database, p: PageInput, runIds: string[]): Promise<replans.RunningPlan[]> {
  const runs = await replans.listRunningPlans(db, p.scope, runIds);
  const missing = [...new Set(runs.map((r) => r.planVersion).filter((v): v is number => v !== null))].filter(
    (v) => !p.versionCache.has(v),
  );
  if (missing.length > 0) {
    const found = await versions.findPlanVersions(db, p.scope.segmentId, missing);
    for (const v of missing) p.versionCache.set(v, found.get(v) ?? null);
  }
  return runs;
}

async function computePage(ctx: ServiceContext, db: Database, p: PageInput, runIds: string[]): Promise<Computed[]> {
  const runs = await fetchPage(db, p, runIds);
  return runs.map((run) => computeOne(ctx, run, run.touches, p));
}

function computeOne(
  ctx: ServiceContext,
  run: replans.RunningPlan,
  touches: replans.RunTouch[],
  p: { target: Target; staff: StaffBook; asOf: Date; versionCache: Map<number, versions.PlanVersion | null> },
): Computed {
  const { target, staff } = p;
  const known = run.planVersion !== null ? p.versionCache.get(run.planVersion) : null;
  const fromSteps = known?.plan ?? run.plan ?? [];
  const fromWindow = known?.sendWindow ?? target.sendWindow;
  const salesperson = run.salespersonId ? (staff.byId.get(run.salespersonId) ?? null) : null;
  const stored = new Map(touches.map((t) => [t.step, t]));
  // A call step keeps the person it was given unless the new version asks for another role.
  const fromCallers = new Map<number, CallerCalendar>();
  const fromByStep = new Map(fromSteps.map((s) => [s.step, s]));
  for (const [step, person] of chooseCallers(fromSteps, salesperson, staff.byRole)) {
    const given = stored.get(step)?.assigneeId;
    const who = (given && staff.byId.get(given)) || person;
    fromCallers.set(step, calendarOf(who));
  }
  const assignees = chooseCallers(target.plan, salesperson, staff.byRole);
  const toCallers = new Map<number, CallerCalendar>();
  for (const step of target.plan) {
    if (step.channel !== 'call') continue;
    const before = fromByStep.get(step.step);
    const given = stored.get(step.step)?.assigneeId;
    const keep = before?.channel === 'call' && (before.assignee ?? null) === (step.assignee ?? null) && given;
    const who = (keep && staff.byId.get(keep)) || assignees.get(step.step);
    if (who) {
      assignees.set(step.step, who);
      toCallers.set(step.step, calendarOf(who));
    }
  }
  const changes = replanChanges({
    touches,
    from: { steps: fromSteps, sendWindow: fromWindow, callerCalendars: fromCallers },
    to: { steps: target.plan, sendWindow: target.sendWindow, callerCalendars: toCallers },
    base: {
      soldAt: run.startedAt,
      now: p.asOf,
      zone: run.timezone ?? ctx.settings.defaultTimezone,
      callDays: salesperson?.workingDays ?? [1, 2, 3, 4, 5],
      callStart: salesperson?.workStart,
      graceDays: ctx.settings.graceDays,
      contact: contactPointsOf(run.contact),
    },
  });
  return {
    entry: {
      customerId: run.customerId,
      runId: run.runId,
      name: [run.firstName, run.lastName].filter(Boolean).join(' '),
      fromVersion: run.planVersion,
      fingerprint: runFingerprint(run, touches),
      changes,
    },
    run,
    touches,
    assignees,
    salesperson,
  };
}

/** runFingerprint names the state of a running plan that a re-plan depends on: its touches, version and customer. */
function runFingerprint(run: replans.RunningPlan, touches: replans.RunTouch[]): string {
  // The fields joined by '|', a missing one empty (as Array.join writes null): built as one string, per run.
  let text =
    `${run.planVersion ?? ''}|${run.planVersion === null ? canonicalJson(run.plan) : ''}|${run.startedAt.getTime()}|` +
    `${run.timezone ?? ''}|${run.salespersonId ?? ''}|${JSON.stringify(run.contact)}`;
  // The repository reads touches in step order; sorting is then only a check.
  const sorted = touches.every((t, i) => i === 0 || touches[i - 1].step <= t.step);
  for (const t of sorted ? touches : touches.slice().sort((a, b) => a.step - b.step))
    text += `|${t.id}|${t.step}|${t.channel}|${t.dueAt.getTime()}|${t.status}|${t.assigneeId ?? ''}`;
  return sha(text);
}

/** Walk is a full pass over the scope as of one moment, page by page. */
async function walk(
  ctx: ServiceContext,
  scope: ReplanScope,
  asOf: Date,
  onPage: (page: Computed[]) => Promise<void> | void,
): Promise<{ target: Target; staff: StaffBook; fingerprint: string; considered: number }> {
  checkScope(scope);
  const target = await loadTarget(ctx.db, scope.segmentId);
  const staff = await loadStaff(ctx.db);
  const versionCache = new Map<number, versions.PlanVersion | null>();
  const all = createHash('sha256');
  let considered = 0;
  const input: PageInput = { scope, target, staff, asOf, versionCache };
  // The scope is resolved to run ids once; each page then finds its runs by id. The next pages are read while this one
  // is computed, so the database and the computation overlap (on two connections of a pool; in a transaction the
  // reads queue on its one connection).
  const runIds = await replans.listRunIds(ctx.db, scope);
  const reading: Promise<replans.RunningPlan[]>[] = [];
  let from = 0;
  const readAhead = () => {
    for (; reading.length < PAGES_AHEAD && from < runIds.length; from += REPLAN_PAGE) {
      const page = fetchPage(ctx.db, input, runIds.slice(from, from + REPLAN_PAGE));
      page.catch(() => undefined); // a failure is thrown where the page is awaited, never left unhandled
      reading.push(page);
    }
  };
  readAhead();
  while (reading.length > 0) {
    const runs = await reading.shift()!;
    readAhead();
    const computed = runs.map((run) => computeOne(ctx, run, run.touches, input));
    for (const c of computed) all.update(`${c.entry.runId}:${c.entry.fingerprint};`);
    considered += computed.length;
    await onPage(computed);
  }
  return { target, staff, fingerprint: all.digest('base64url'), considered };
}

function summary(
  scope: ReplanScope,
  asOf: Date,
  w: { target: Target; fingerprint: string; considered: number },
  entries: ReplanEntry[],
): DryRun {
  return {
    segmentId: scope.segmentId,
    toVersion: w.target.version,
    asOf,
    planFingerprint: w.target.fingerprint,
    fingerprint: w.fingerprint,
    considered: w.considered,
    customers: entries.length,
    counts: countChanges(entries.flatMap((e) => e.changes)),
    entries,
  };
}

/** dryRunReplan lists, without writing anything, what moving the scope's running plans to the current version would change. */
export async function dryRunReplan(ctx: ServiceContext, scope: ReplanScope, asOf = ctx.clock.now()): Promise<DryRun> {
  const entries: ReplanEntry[] = [];
  const w = await walk(ctx, scope, asOf, (page) => {
    for (const c of page) if (c.entry.changes.length > 0) entries.push(c.entry);
  });
  return summary(scope, asOf, w, entries);
}

/**
 * applyReplan makes the changes of a dry run. It refuses (409) when the dry run is older than an hour or in the
 * future, when the segment's plan changed since (another version), or when any running plan of the scope changed (a
 * contact made or moved, new details, a plan started or ended). Then it writes page by page, each in a transaction
 * that locks the page's runs and touches and checks their fingerprints again under the lock; a plan that changes in
 * between stops the apply there with a 409 saying how many plans were already moved.
 */
export async function applyReplan(ctx: ServiceContext, input: ApplyInput, actor: string): Promise<ApplyResult> {
  const now = ctx.clock.now();
  const asOf = input.asOf;
  if (Number.isNaN(asOf.getTime())) throw new ValidationError('asOf', 'must be the asOf of a dry run');
  if (asOf.getTime() > now.getTime() || now.getTime() - asOf.getTime() > MAX_DRY_RUN_AGE_MS)
    throw new ConflictError('this dry run is too old (or from the future): run a new dry run', { field: 'asOf' });
  const scope: ReplanScope = {
    segmentId: input.segmentId,
    fromVersion: input.fromVersion,
    customerIds: input.customerIds,
  };
  const expected = new Map<string, string>();
  const check = await walk(ctx, scope, asOf, (page) => {
    for (const c of page) expected.set(c.entry.runId, c.entry.fingerprint);
  });
  if (check.target.fingerprint !== input.planFingerprint)
    throw new ConflictError('the plan changed since the dry run: run a new dry run', { field: 'planFingerprint' });
  if (check.fingerprint !== input.fingerprint)
    throw new ConflictError('customers in this re-plan changed since the dry run: run a new dry run', {
      field: 'fingerprint',
    });

  const entries: ReplanEntry[] = [];
  let moved = 0;
  let batches = 0;
  const runIds = [...expected.keys()];
  const versionCache = new Map<number, versions.PlanVersion | null>();
  for (let i = 0; i < runIds.length; i += REPLAN_PAGE) {
    const batch = runIds.slice(i, i + REPLAN_PAGE);
    const written = await ctx.db.transaction().execute(async (trx) => {
      const segment = await segmentsRepo.findSegmentForUpdate(trx, input.segmentId);
      if ((segment?.planVersion ?? 1) !== check.target.version)
        throw new ConflictError(
          `the plan changed during the apply, after ${moved} plans were moved: run a new dry run`,
          {
            field: 'planFingerprint',
            moved,
          },
        );
      await replans.lockRunsAndTouches(trx, batch);
      const page = await computePage(
        ctx,
        trx,
        { scope, target: check.target, staff: check.staff, asOf, versionCache },
        batch,
      );
      if (page.length !== batch.length || page.some((c) => expected.get(c.entry.runId) !== c.entry.fingerprint))
        throw new ConflictError(
          `a customer changed during the apply, after ${moved} plans were moved: run a new dry run`,
          {
            field: 'fingerprint',
            moved,
          },
        );
      await writePage(trx, page, check.target, now, actor);
      return page;
    });
    batches++;
    moved += written.length;
    for (const c of written) if (c.entry.changes.length > 0) entries.push(c.entry);
  }
  await audit(ctx.db, {
    actor,
    action: 'segment.replanned',
    entity: 'segment',
    entityId: input.segmentId,
    detail: {
      toVersion: check.target.version,
      fromVersion: input.fromVersion ?? null,
      moved,
      customers: entries.length,
      counts: countChanges(entries.flatMap((e) => e.changes)),
    },
    at: now,
  });
  return { ...summary(scope, asOf, check, entries), moved, batches };
}

async function writePage(trx: Database, page: Computed[], target: Target, now: Date, actor: string): Promise<void> {
  const cancels: string[] = [];
  const moves: lifecycle.RetimedTouch[] = [];
  const adds: replans.AddedTouch[] = [];
  const audits: AuditEntry[] = [];
  const steps = new Map(target.plan.map((s) => [s.step, s]));
  for (const { entry, run, assignees, salesperson } of page) {
    for (const c of entry.changes) {
      const assigneeId = c.toChannel === 'call' ? (assignees.get(c.step)?.id ?? null) : (salesperson?.id ?? null);
      if (c.kind === 'removed') cancels.push(c.touchId as string);
      else if (c.kind === 'added') {
        const step = steps.get(c.step);
        adds.push({
          runId: run.runId,
          customerId: run.customerId,
          step: c.step,
          channel: c.toChannel!,
          senderRole: step?.sender ?? step?.assignee ?? null,
          assigneeId,
          dueAt: c.toDueAt!,
        });
      } else
        moves.push({
          touchId: c.touchId as string,
          dueAt: c.toDueAt!,
          channel: c.toChannel!,
          assigneeId: c.kind === 'channel' ? assigneeId : null,
        });
    }
    if (entry.changes.length > 0 || entry.fromVersion !== target.version)
      audits.push({
        actor,
        action: 'customer.replanned',
        entity: 'customer',
        entityId: run.customerId,
        detail: {
          segmentId: target.segmentId,
          fromVersion: entry.fromVersion,
          toVersion: target.version,
          changes: entry.changes.map((c) => ({
            step: c.step,
            kind: c.kind,
            from: c.fromDueAt?.toISOString() ?? null,
            to: c.toDueAt?.toISOString() ?? null,
            fromChannel: c.fromChannel,
            toChannel: c.toChannel,
          })),
        },
        at: now,
      });
  }
  if (cancels.length > 0)
    await lifecycle.cancelOpenTouches(trx, { touchIds: cancels }, now, 'replanned: step removed', null);
  await lifecycle.retimeTouches(trx, moves, now, actor);
  const ids = await replans.addTouches(trx, adds, now, actor);
  // The new touches' ids, in the answer, so the caller sees the rows apply made.
  let k = 0;
  for (const { entry } of page) for (const c of entry.changes) if (c.kind === 'added') c.touchId = ids[k++] ?? null;
  await replans.setRunsVersion(
    trx,
    page.map((c) => c.run.runId),
    target.plan,
    target.version,
  );
  await audit(trx, ...audits);
}
