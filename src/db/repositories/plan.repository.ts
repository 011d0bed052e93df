/** Plan runs and their touches: every planned contact is a row, with each status change kept as an event. */
import type { Database } from '../database';
import type { Channel, PlanStep, StaffRole, TouchStatus } from '../../domain/types';
import { cancelOpenTouches, notePlanned, type TouchEvent } from './touch-lifecycle.repository';

/** PlanRun is one plan being run for a customer. */
export interface PlanRun {
  id: string;
  customerId: string;
  saleId: string | null;
  segmentId: string;
  kind: 'first_year' | 'later_year';
  year: number;
  status: 'active' | 'completed' | 'cancelled';
  plan: PlanStep[];
  startedAt: Date;
}

/** Touch is one planned contact. */
export interface Touch {
  id: string;
  planRunId: string | null;
  customerId: string;
  step: number;
  channel: Channel;
  senderRole: StaffRole | null;
  assigneeId: string | null;
  dueAt: Date;
  status: TouchStatus;
  statusReason: string | null;
  attempts: number;
  completedAt: Date | null;
  messageId: string | null;
}

/** NewTouch is a touch to store. */
export interface NewTouch {
  step: number;
  channel: Channel;
  senderRole?: StaffRole | null;
  assigneeId?: string | null;
  dueAt: Date;
  status: TouchStatus;
  reason?: string | null;
}

/** findActiveFirstYearRun returns the customer's running first-year plan, or null. */
export async function findActiveFirstYearRun(db: Database, customerId: string): Promise<PlanRun | null> {
  const row = await db
    .selectFrom('planRuns')
    .selectAll()
    .where('customerId', '=', customerId)
    .where('kind', '=', 'first_year')
    .where('status', '=', 'active')
    .executeTakeFirst();
  return row ? ({ ...row, plan: row.plan as unknown as PlanStep[] } as PlanRun) : null;
}

/** endRuns marks a customer's active runs of `kind` completed or cancelled and cancels their scheduled touches. */
export async function endActiveRuns(
  db: Database,
  customerId: string,
  kind: PlanRun['kind'],
  status: 'completed' | 'cancelled',
  at: Date,
  reason: string,
): Promise<void> {
  const runs = await db
    .updateTable('planRuns')
    .set({ status })
    .where('customerId', '=', customerId)
    .where('kind', '=', kind)
    .where('status', '=', 'active')
    .returning('id')
    .execute();
  if (runs.length === 0) return;
  await cancelOpenTouches(db, { runIds: runs.map((r) => r.id) }, at, reason, null);
}

/** insertTouches stores the touches of a run with a first event each, and returns them in step order. */
export async function insertTouches(
  db: Database,
  run: { id: string; customerId: string },
  touches: NewTouch[],
  at: Date,
): Promise<Touch[]> {
  if (touches.length === 0) return [];
  const rows = await db
    .insertInto('touches')
    .values(
      touches.map((t) => ({
        planRunId: run.id,
        customerId: run.customerId,
        step: t.step,
        channel: t.channel,
        senderRole: t.senderRole ?? null,
        assigneeId: t.assigneeId ?? null,
        dueAt: t.dueAt,
        status: t.status,
        statusReason: t.reason ?? null,
        completedAt: t.status === 'scheduled' ? null : at,
      })),
    )
    .returningAll()
    .execute();
  await notePlanned(
    db,
    rows.map((r) => ({ id: r.id, status: r.status as TouchStatus, reason: r.statusReason })),
    at,
    null,
  );
  return rows.map(toTouch).sort((a, b) => a.step - b.step);
}

function toTouch(row: {
  id: string;
  planRunId: string | null;
  customerId: string;
  step: number;
  channel: string;
  senderRole: string | null;
  assigneeId: string | null;
  dueAt: Date;
  status: string;
  statusReason: string | null;
  attempts: number;
  completedAt: Date | null;
  messageId: string | null;
}): Touch {
  return {
    id: row.id,
    planRunId: row.planRunId,
    customerId: row.customerId,
    step: row.step,
    channel: row.channel as Channel,
    senderRole: row.senderRole as StaffRole | null,
    assigneeId: row.assigneeId,
    dueAt: row.dueAt,
    status: row.status as TouchStatus,
    statusReason: row.statusReason,
    attempts: row.attempts,
    completedAt: row.completedAt,
    messageId: row.messageId,
  };
}

/** listTouchesOfRun returns a run's touches in step order. */
export async function listTouchesOfRun(db: Database, runId: string): Promise<Touch[]> {
  return (await db.selectFrom('touches').selectAll().where('planRunId', '=', runId).orderBy('step').execute()).map(
    toTouch,
  );
}

/** listTouchesOfCustomer returns all of a customer's touches by due time. */
export async function listTouchesOfCustomer(db: Database, customerId: string): Promise<Touch[]> {
  return (
    await db
      .selectFrom('touches')
      .selectAll()
      .where('customerId', '=', customerId)
      .orderBy('dueAt')
      .orderBy('step')
      .execute()
  ).map(toTouch);
}

/** listEventsOfCustomer returns the status history of all of a customer's touches, oldest first. */
export async function listEventsOfCustomer(db: Database, customerId: string): Promise<TouchEvent[]> {
  return db
    .selectFrom('touchEvents as e')
    .innerJoin('touches as t', 't.id', 'e.touchId')
    .select(['e.touchId', 'e.at', 'e.status', 'e.reason', 'e.actor'])
    .where('t.customerId', '=', customerId)
    .orderBy('e.at')
    .orderBy('e.id')
    .execute();
}
