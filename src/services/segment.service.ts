/**
 * Segments: validating and saving match rules, plans and send windows. Saving a plan never touches plans already
 * running: each run keeps the snapshot of steps it started with.
 */
import type { Database } from '../db/database';
import * as repo from '../db/repositories/segment.repository';
import { audit } from '../db/repositories/access.repository';
import * as versions from '../db/repositories/plan-version.repository';
import { describePlanChanges } from '../domain/plan-version';
import { parseClock } from '../domain/schedule';
import type { PlanStep, Segment, SendWindow } from '../domain/types';
import { validateTemplate } from '../channels/templates';
import { LetterTooLongError } from '../channels/letter.channel';
import { checkLetterTemplate } from './letter.service';
import { ConflictError, NotFoundError, ValidationError } from './errors';
import { isUniqueViolation, type ServiceContext } from './context';

/** SegmentInput is a segment as a manager writes it; omitted parts take the defaults. */
export type SegmentInput = Partial<Omit<Segment, 'id' | 'isDefault' | 'name'>> & { name: string };

function checkWindow(w: SendWindow): void {
  if (w.days.length === 0 || new Set(w.days).size !== w.days.length)
    throw new ValidationError('sendWindow.days', 'must list distinct weekdays 1 to 7');
  const start = parseClock(w.start);
  const end = parseClock(w.end);
  if (start === null) throw new ValidationError('sendWindow.start', 'must be HH:mm');
  if (end === null) throw new ValidationError('sendWindow.end', 'must be HH:mm');
  if (start >= end) throw new ValidationError('sendWindow.end', 'must be after sendWindow.start');
}

async function checkPlan(plan: PlanStep[]): Promise<void> {
  const seen = new Set<number>();
  for (const [i, step] of plan.entries()) {
    const at = `plan.${i}`;
    if (seen.has(step.step)) throw new ValidationError(`${at}.step`, `step ${step.step} appears twice`);
    seen.add(step.step);
    const { years = 0, months = 0, weeks = 0, days = 0 } = step.offset;
    if (years + months + weeks + days <= 0) throw new ValidationError(`${at}.offset`, 'must be after the sale');
    if (step.channel === 'mail' && !step.template)
      throw new ValidationError(`${at}.template`, 'is required for a letter or email step');
    if (step.channel === 'call' && !step.talkingPoints?.length)
      throw new ValidationError(`${at}.talkingPoints`, 'a call needs at least one talking point');
    try {
      validateTemplate({
        subject: step.template?.subject ?? '',
        body: step.template?.body ?? '',
        talkingPoints: step.talkingPoints,
      });
    } catch (err) {
      throw new ValidationError(`${at}.template`, (err as Error).message);
    }
    // A mail step may go out as a letter, which must fit one page: refused now rather than when it is due.
    if (step.channel === 'mail' && step.template) {
      try {
        await checkLetterTemplate(step.template);
      } catch (err) {
        if (err instanceof LetterTooLongError)
          throw new ValidationError(`${at}.template`, `as a letter: ${err.message}`);
        throw err;
      }
    }
  }
}

/** checkSegment validates a segment's plan, window and rules, throwing a ValidationError naming the field. */
export async function checkSegment(s: repo.SegmentFields): Promise<void> {
  checkWindow(s.sendWindow);
  await checkPlan(s.plan);
  const { minTotal, maxTotal } = s.match;
  if (minTotal != null && maxTotal != null && Number(minTotal) > Number(maxTotal))
    throw new ValidationError('match.maxTotal', 'must not be below match.minTotal');
}

async function withDefaults(db: Database, input: SegmentInput, base: Segment | null): Promise<repo.SegmentFields> {
  const fallback = base ?? (await repo.listSegments(db)).find((s) => s.isDefault)!;
  return {
    name: input.name,
    priority: input.priority ?? base?.priority ?? 100,
    match: input.match ?? base?.match ?? {},
    plan: input.plan ?? fallback.plan,
    sendWindow: input.sendWindow ?? fallback.sendWindow,
    laterYears: input.laterYears ?? fallback.laterYears,
  };
}

async function saved<T>(work: Promise<T>, name: string): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (isUniqueViolation(err))
      throw new ConflictError(`name: a segment named "${name}" already exists`, { field: 'name' });
    throw err;
  }
}

/** createSegment validates and stores a new segment with its plan as version 1; an omitted plan or window copies the default segment's. */
export async function createSegment(ctx: ServiceContext, input: SegmentInput, actor: string): Promise<Segment> {
  const fields = await withDefaults(ctx.db, input, null);
  await checkSegment(fields);
  const now = ctx.clock.now();
  return saved(
    ctx.db.transaction().execute(async (trx) => {
      const segment = await repo.insertSegment(trx, fields);
      await versions.insertPlanVersion(trx, {
        segmentId: segment.id,
        version: 1,
        plan: fields.plan,
        sendWindow: fields.sendWindow,
        changes: ['first version'],
        createdBy: actor,
        createdAt: now,
      });
      await audit(trx, { actor, action: 'segment.created', entity: 'segment', entityId: segment.id, at: now });
      return segment;
    }),
    input.name,
  );
}

/**
 * updateSegment validates and replaces a segment's fields. A changed plan (steps or send window) becomes a new
 * version, numbered, with who saved it and what changed; running plans keep the version they were given.
 */
export async function updateSegment(
  ctx: ServiceContext,
  id: string,
  input: SegmentInput,
  actor: string,
): Promise<Segment> {
  const found = await repo.findSegment(ctx.db, id);
  if (!found) throw new NotFoundError('segment', id);
  const fields = await withDefaults(ctx.db, input, found);
  await checkSegment(fields);
  const now = ctx.clock.now();
  return saved(
    ctx.db.transaction().execute(async (trx) => {
      // Locked, so two managers saving at once get versions n+1 and n+2, each described against the one before.
      const current = await repo.findSegmentForUpdate(trx, id);
      if (!current) throw new NotFoundError('segment', id);
      const changes = describePlanChanges(current, fields);
      const version = changes.length > 0 ? (current.planVersion ?? 1) + 1 : undefined;
      const segment = await repo.updateSegment(trx, id, fields, version);
      if (!segment) throw new NotFoundError('segment', id);
      if (version)
        await versions.insertPlanVersion(trx, {
          segmentId: id,
          version,
          plan: fields.plan,
          sendWindow: fields.sendWindow,
          changes,
          createdBy: actor,
          createdAt: now,
        });
      await audit(trx, {
        actor,
        action: 'segment.updated',
        entity: 'segment',
        entityId: id,
        detail: { planChanged: changes.length > 0, ...(version ? { planVersion: version, changes } : {}) },
        at: now,
      });
      return segment;
    }),
    input.name,
  );
}

/** listPlanVersions returns a segment's plan versions, newest first, with how many running plans each has. */
export async function listPlanVersions(
  ctx: ServiceContext,
  segmentId: string,
): Promise<{ versions: (versions.PlanVersion & { running: number })[]; unversionedRunning: number }> {
  const segment = await repo.findSegment(ctx.db, segmentId);
  if (!segment) throw new NotFoundError('segment', segmentId);
  const [list, counts] = await Promise.all([
    versions.listPlanVersions(ctx.db, segmentId),
    versions.countRunsByVersion(ctx.db, segmentId),
  ]);
  const running = new Map(counts.map((c) => [c.version, c.runs]));
  return {
    versions: list.map((v) => ({ ...v, running: running.get(v.version) ?? 0 })),
    unversionedRunning: running.get(null) ?? 0,
  };
}

/** listSegments returns every segment by priority. */
export function listSegments(ctx: ServiceContext): Promise<Segment[]> {
  return repo.listSegments(ctx.db);
}
