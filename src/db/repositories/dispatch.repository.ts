/**
 * Moving touches through delivery: claiming due ones for the queues (FOR UPDATE SKIP LOCKED, so any number of
 * schedulers never claim one twice), finding ones lost from Redis, and the send lease a worker holds while delivering.
 */
import { sql } from 'kysely';
import type { Database } from '../database';
import type { Channel, TouchStatus } from '../../domain/types';
import { insertTouchEvents } from './plan.repository';

/** ClaimedTouch is a touch handed to a queue. */
export interface ClaimedTouch {
  id: string;
  channel: Channel;
  dueAt: Date;
}

/**
 * claimDueTouches marks up to `limit` scheduled touches due before `until` as queued and returns them, skipping
 * rows another scheduler holds. Touches of paused customers stay where they are (a do-not-contact request already
 * cancelled its customer's touches, and delivery checks it again).
 */
export async function claimDueTouches(db: Database, now: Date, until: Date, limit: number): Promise<ClaimedTouch[]> {
  const result = await sql<ClaimedTouch>`
    with due as (
      select t.id from touches t
      where t.status = 'scheduled' and t.due_at <= ${until}
        and not exists (select 1 from customers c where c.id = t.customer_id and c.paused)
      order by t.due_at
      limit ${limit}
      for update of t skip locked
    )
    update touches t set status = 'queued', queued_at = ${now}, updated_at = ${now}
    from due where t.id = due.id
    returning t.id, t.channel, t.due_at as "dueAt"`.execute(db);
  await insertTouchEvents(db, result.rows.map((r) => ({ touchId: r.id, at: now, status: 'queued', reason: null, actor: 'scheduler' })));
  return result.rows;
}

/**
 * findLostTouches returns queued touches whose job may have been lost (queued before `queuedBefore`, not held by a
 * live lease, not waiting in a letter batch) and stamps them queued again now, so two reconcilers do not both take one.
 */
export async function findLostTouches(db: Database, now: Date, queuedBefore: Date, limit: number): Promise<ClaimedTouch[]> {
  const result = await sql<ClaimedTouch>`
    with lost as (
      select id from touches
      where status = 'queued' and queued_at < ${queuedBefore}
        and (lease_until is null or lease_until < ${now})
        and letter_batch_id is null
      order by queued_at
      limit ${limit}
      for update skip locked
    )
    update touches t set queued_at = ${now}, updated_at = ${now}
    from lost where t.id = lost.id
    returning t.id, t.channel, t.due_at as "dueAt"`.execute(db);
  return result.rows;
}

/** LeasedTouch is a touch a worker now holds for delivery. */
export interface LeasedTouch {
  id: string;
  planRunId: string | null;
  customerId: string;
  step: number;
  channel: Channel;
  senderRole: string | null;
  assigneeId: string | null;
  dueAt: Date;
  attempts: number;
}

/**
 * acquireLease takes the touch for delivery until `until` if it is still queued and nobody else holds it, counting
 * the attempt; null means another worker has it or it is already finished, and the job has nothing to do.
 */
export async function acquireLease(db: Database, touchId: string, now: Date, until: Date): Promise<LeasedTouch | null> {
  const row = await db
    .updateTable('touches')
    .set((eb) => ({ leaseUntil: until, attempts: eb('attempts', '+', 1), updatedAt: now }))
    .where('id', '=', touchId)
    .where('status', '=', 'queued')
    .where((eb) => eb.or([eb('leaseUntil', 'is', null), eb('leaseUntil', '<', now)]))
    .returning(['id', 'planRunId', 'customerId', 'step', 'channel', 'senderRole', 'assigneeId', 'dueAt', 'attempts'])
    .executeTakeFirst();
  return row ? ({ ...row, channel: row.channel as Channel } as LeasedTouch) : null;
}

/** renewLease extends a lease the worker still holds (`heldUntil` unchanged since it took it); false when it lost it. */
export async function renewLease(db: Database, touchId: string, heldUntil: Date, until: Date): Promise<boolean> {
  const rows = await db
    .updateTable('touches')
    .set({ leaseUntil: until })
    .where('id', '=', touchId)
    .where('status', '=', 'queued')
    .where('leaseUntil', '=', heldUntil)
    .returning('id')
    .execute();
  return rows.length > 0;
}

/** releaseLease gives a touch back after a transient failure, so the retry (or the reconciler) can take it. */
export async function releaseLease(db: Database, touchId: string, now: Date, reason: string): Promise<void> {
  await db.updateTable('touches').set({ leaseUntil: null, statusReason: reason, updatedAt: now }).where('id', '=', touchId).execute();
  await insertTouchEvents(db, [{ touchId, at: now, status: 'retry', reason, actor: 'worker' }]);
}

/** TouchResult is how a delivery attempt ended. */
export interface TouchResult {
  /** `scheduled` puts the touch back for later (e.g. its customer is paused); the scheduler claims it again. */
  status: Extract<TouchStatus, 'sent' | 'done' | 'failed' | 'skipped' | 'cancelled' | 'queued' | 'scheduled'>;
  reason?: string | null;
  messageId?: string | null;
  content?: unknown;
  channel?: Channel;
  actor?: string;
}

/**
 * finishTouch records the outcome of a delivery, drops the lease and appends the event, in one statement (one round
 * trip and one commit per delivered touch).
 */
export async function finishTouch(db: Database, touchId: string, now: Date, r: TouchResult): Promise<boolean> {
  const [result] = await db
    .with('finished', (qb) =>
      qb
        .updateTable('touches')
        .set({
          status: r.status,
          statusReason: r.reason ?? null,
          leaseUntil: null,
          updatedAt: now,
          ...(r.status === 'queued' ? { queuedAt: now } : r.status === 'scheduled' ? { queuedAt: null } : { completedAt: now }),
          ...(r.messageId ? { messageId: r.messageId } : {}),
          ...(r.content !== undefined ? { content: JSON.stringify(r.content) } : {}),
          ...(r.channel ? { channel: r.channel } : {}),
        })
        .where('id', '=', touchId)
        // Only a touch still queued: one cancelled meanwhile (an opt-out, an erasure) keeps its cancellation.
        .where('status', '=', 'queued')
        .returning('id'),
    )
    .insertInto('touchEvents')
    .columns(['touchId', 'at', 'status', 'reason', 'actor'])
    .expression((eb) =>
      eb
        .selectFrom('finished')
        .select([
          'finished.id',
          sql<Date>`${now}::timestamptz`.as('at'),
          sql<string>`${r.status}::text`.as('status'),
          sql<string | null>`${r.reason ?? null}::text`.as('reason'),
          sql<string>`${r.actor ?? 'worker'}::text`.as('actor'),
        ]),
    )
    .execute();
  return Number(result?.numInsertedOrUpdatedRows ?? 0) > 0;
}
