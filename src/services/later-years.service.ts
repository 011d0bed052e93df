/**
 * Moving customers through the years: at the first anniversary a first-year plan completes and the customer enters
 * the later-years program; at every later anniversary the year's run completes and the next one starts, with its
 * human contact around the coming anniversary. Works in batches, each its own transaction, and is idempotent: runs
 * are taken with SKIP LOCKED and a year's run has a unique key.
 */
import { contactPointsOf } from '../domain/channel';
import { candidateCutoff, laterYearAt, laterYearStep, laterYearTouch } from '../domain/later-years';
import { DEFAULT_SEND_WINDOW } from '../domain/schedule';
import type { Segment } from '../domain/types';
import * as repo from '../db/repositories/later-years.repository';
import { insertTouches } from '../db/repositories/plan.repository';
import { listSegments } from '../db/repositories/segment.repository';
import { usableSegment } from './segment.service';
import { audit, type AuditEntry } from '../db/repositories/access.repository';
import type { Database } from '../db/database';
import type { ServiceContext } from './context';

/** LaterYearsSettings tune one run of the later-years task. */
export interface LaterYearsSettings {
  /** Runs per transaction. */
  batchSize: number;
  /** Most batches per kind of run, so one run of the task stays short; the next run continues. */
  maxBatches: number;
}

/** DEFAULT_LATER_YEARS_SETTINGS suit a production deployment. */
export const DEFAULT_LATER_YEARS_SETTINGS: LaterYearsSettings = { batchSize: 500, maxBatches: 40 };

/** LaterYearsReport counts what one run did. */
export interface LaterYearsReport {
  /** Customers whose first year ended and who entered the later-years program. */
  entered: number;
  /** Later years that ended and were followed by the next. */
  rolled: number;
  /** Customers who left the program at an anniversary because they opted out of all contact or were erased. */
  left: number;
}

/** advanceLaterYears completes the runs that reached their anniversary and starts each customer's next year. */
export async function advanceLaterYears(
  ctx: ServiceContext,
  s: LaterYearsSettings = DEFAULT_LATER_YEARS_SETTINGS,
): Promise<LaterYearsReport> {
  const report: LaterYearsReport = { entered: 0, rolled: 0, left: 0 };
  const segments = new Map((await listSegments(ctx.db)).map((seg) => [seg.id, seg]));
  // Runs reaching an anniversary, then customers in the program with no run at all (an imported history).
  const sources = {
    first_year: (trx: Database, after: repo.RunCursor | null, now: Date) =>
      repo.lockRunsStartedBefore(trx, 'first_year', candidateCutoff(now), after, s.batchSize),
    later_year: (trx: Database, after: repo.RunCursor | null, now: Date) =>
      repo.lockRunsStartedBefore(trx, 'later_year', candidateCutoff(now), after, s.batchSize),
    without_run: (trx: Database, after: repo.RunCursor | null) =>
      repo.lockLaterYearsWithoutRun(trx, after, s.batchSize),
  };
  for (const source of Object.values(sources)) {
    let after: repo.RunCursor | null = null;
    for (let i = 0; i < s.maxBatches; i++) {
      const now = ctx.clock.now();
      const batch: { size: number; last: repo.RunCursor | null } = await ctx.db.transaction().execute(async (trx) => {
        const runs = await source(trx, after, now);
        const entries: AuditEntry[] = [];
        for (const run of runs) {
          const done = await advanceRun(trx, ctx, run, segments, now);
          if (done === 'kept') continue;
          report[done]++;
          entries.push({
            actor: 'later-years',
            action: `customer.${done === 'rolled' ? 'later_year_started' : done === 'entered' ? 'entered_later_years' : 'left_later_years'}`,
            entity: 'customer',
            entityId: run.customerId,
            detail: { runId: run.runId },
            at: now,
          });
        }
        if (entries.length) await audit(trx, ...entries);
        const last = runs.at(-1);
        return { size: runs.length, last: last ? { startedAt: last.startedAt, id: last.runId } : null };
      });
      if (batch.size < s.batchSize || !batch.last) break;
      after = batch.last;
    }
  }
  if (report.entered + report.rolled + report.left > 0) ctx.log.info(report, 'later years advanced');
  return report;
}

/** advanceRun handles one run: kept (its year is not over), or ended and followed by the customer's next year. */
async function advanceRun(
  trx: Database,
  ctx: ServiceContext,
  run: repo.RunAtAnniversary,
  segments: Map<string, Segment>,
  now: Date,
): Promise<'kept' | 'entered' | 'rolled' | 'left'> {
  const zone = run.timezone ?? ctx.settings.defaultTimezone;
  const span = laterYearAt(run.anchor, zone, now);
  if (!span) return 'kept';
  if (run.kind === 'later_year' && span.year <= run.year) return 'kept';
  await repo.completeRun(trx, run.runId);
  if (run.doNotContact || run.erasedAt) {
    if (run.program !== 'none') await repo.setProgram(trx, run.customerId, 'none', now);
    return 'left';
  }
  if (run.program !== 'later_years') await repo.setProgram(trx, run.customerId, 'later_years', now);
  const stored = segments.get(run.segmentId) ?? (await listSegments(trx)).find((seg) => seg.id === run.segmentId);
  const segment = stored ? usableSegment(stored) : undefined;
  const laterYears = segment?.laterYears ?? { humanContact: 'call' as const };
  const planned = laterYearTouch({
    anchor: run.anchor,
    year: span.year,
    zone,
    now,
    laterYears,
    sendWindow: segment?.sendWindow ?? DEFAULT_SEND_WINDOW,
    callDays: run.workingDays ?? [1, 2, 3, 4, 5],
    callStart: run.workStart ?? undefined,
    contact: contactPointsOf(run),
  });
  const runId = await repo.insertLaterYearRun(trx, {
    customerId: run.customerId,
    saleId: run.saleId,
    segmentId: run.segmentId,
    year: span.year,
    plan: [laterYearStep(span.year, laterYears)],
    startedAt: span.startsAt,
  });
  if (runId) {
    await insertTouches(
      trx,
      { id: runId, customerId: run.customerId },
      [{ ...planned, assigneeId: run.salespersonId }],
      now,
    );
    if (planned.reason === 'no_address' && !run.needsCleanup) await repo.flagForCleanup(trx, run.customerId, now);
  }
  return run.kind === 'first_year' ? 'entered' : 'rolled';
}
