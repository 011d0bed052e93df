/**
 * Moving touches through delivery: claiming due ones for the queues (FOR UPDATE SKIP LOCKED, so any number of
 * schedulers never claim one twice), finding ones lost from Redis, and the send lease a worker holds while delivering.
 */
import { sql } from 'kysely';
import type { Database } from '../database';
import type { Channel, TouchStatus } from '../../domain/types';
import { insertTouchEvents, lockedTouchesCte } from './plan.repository';

/** ClaimedTouch is a touch handed to a queue. */
export interface ClaimedTouch {
  id: string;
  channel: Channel;
  dueAt: Date;
}

/**
 * claimDueTouches marks up to `limit` scheduled touches due before `until` as queued and returns them, skipping
 * rows another scheduler holds; `channels`, when given, limits it to those channels. Touches of paused customers stay
 * where they are (a do-not-contact request already cancelled its customer's touches, and delivery checks it again).
 */
export async function claimDueTouches(
  db: Database,
  now: Date,
  until: Date,
  limit: number,
  channels?: Channel[],
): Promise<ClaimedTouch[]> {
  const result = await sql<ClaimedTouch>`
    with due as (
      select t.id from touches t
      where t.status = 'scheduled' and t.due_at <= ${until}
        ${channels ? sql`and t.channel = any(${channels}::text[])` : sql``}
        and not exists (select 1 from customers c where c.id = t.customer_id and c.paused)
      order by t.due_at
      limit ${limit}
      for update of t skip locked
    )
    update touches t set status = 'queued', queued_at = ${now}, updated_at = ${now}
    from due where t.id = due.id
    returning t.id, t.channel, t.due_at as "dueAt"`.execute(db);
  await insertTouchEvents(
    db,
    result.rows.map((r) => ({ touchId: r.id, at: now, status: 'queued', reason: null, actor: 'scheduler' })),
  );
  return result.rows;
}

/**
 * findLostTouches returns queued touches whose job may have been lost (queued before `queuedBefore`, not held by a
 * live lease, not waiting in a letter batch) and stamps them queued again now, so two reconcilers do not both take one.
 */
export async function findLostTouches(
  db: Database,
  now: Date,
  queuedBefore: Date,
  limit: number,
): Promise<ClaimedTouch[]> {
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

/**
 * takeQueuedTouches returns, in id order after `afterId`, the queued touches no live lease holds (and not waiting in
 * a letter batch) and stamps them queued again now: after Redis lost its data every one of them lost its job.
 */
export async function takeQueuedTouches(
  db: Database,
  now: Date,
  afterId: string | null,
  limit: number,
): Promise<ClaimedTouch[]> {
  const result = await sql<ClaimedTouch>`
    with lost as (
      select id from touches
      where status = 'queued' and (lease_until is null or lease_until < ${now})
        and letter_batch_id is null
        and (${afterId}::uuid is null or id > ${afterId}::uuid)
      order by id
      limit ${limit}
      for update skip locked
    )
    update touches t set queued_at = ${now}, updated_at = ${now}
    from lost where t.id = lost.id
    returning t.id, t.channel, t.due_at as "dueAt"`.execute(db);
  return result.rows.sort((a, b) => (a.id < b.id ? -1 : 1));
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
  /** The print batch a letter touch was already filed into (a job run again after filing), else null. */
  letterBatchId: string | null;
  /** When this lease runs out unless renewed. */
  leaseUntil: Date;
}

/**
 * acquireLeases takes each touch for delivery until `until` if it is still queued and nobody else holds it, counting
 * the attempt, in one statement; the answer is aligned with `touchIds`, null where another worker has the touch or it
 * is already finished (that job has nothing to do). An id asked for twice is leased to its first asker only.
 */
export async function acquireLeases(
  db: Database,
  touchIds: string[],
  now: Date,
  until: Date,
): Promise<(LeasedTouch | null)[]> {
  const { rows } = await sql<Omit<LeasedTouch, 'leaseUntil'>>`
    with ${lockedTouchesCte(touchIds)}
    update touches t set lease_until = ${until}, attempts = t.attempts + 1, updated_at = ${now}
    from locked l
    where t.id = l.id and l.status = 'queued' and (l.lease_until is null or l.lease_until < ${now})
    returning t.id, t.plan_run_id as "planRunId", t.customer_id as "customerId", t.step, t.channel, t.sender_role as "senderRole",
              t.assignee_id as "assigneeId", t.due_at as "dueAt", t.attempts, t.letter_batch_id as "letterBatchId"`.execute(
    db,
  );
  const byId = new Map(
    rows.map((r) => [r.id, { ...r, channel: r.channel as Channel, leaseUntil: until } as LeasedTouch]),
  );
  return touchIds.map((id) => {
    const touch = byId.get(id) ?? null;
    byId.delete(id);
    return touch;
  });
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
  await db
    .updateTable('touches')
    .set({ leaseUntil: null, statusReason: reason, updatedAt: now })
    .where('id', '=', touchId)
    .execute();
  await insertTouchEvents(db, [{ touchId, at: now, status: 'retry', reason, actor: 'worker' }]);
}

/**
 * noteSentAfterCancellation writes on a cancelled touch's history that its message went out all the same (the
 * cancellation committed while it was being delivered). Nothing is written unless the touch is cancelled: a result
 * recorded before its answer was lost (and so recorded "again") is not a cancellation.
 */
export async function noteSentAfterCancellation(db: Database, touchId: string, at: Date): Promise<void> {
  await sql`
    insert into touch_events (touch_id, at, status, reason, actor)
    select id, ${at}, 'sent', 'delivered before the cancellation took effect', 'worker' from touches
    where id = ${touchId} and status = 'cancelled'`.execute(db);
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
  /** A rendered letter's PDF, kept on the touch for its print batch. */
  letterPdf?: Uint8Array;
}

/** FinishedTouch is one touch's result to record. */
export interface FinishedTouch {
  touchId: string;
  result: TouchResult;
}

/**
 * finishTouches records the outcomes of deliveries, drops their leases and appends their events, in one statement
 * (one round trip and one commit for every touch finished at the same time). Only a touch still queued is changed:
 * one cancelled meanwhile (an opt-out, an erasure) keeps its cancellation. The answer, aligned with `finished`, says
 * which were recorded.
 */
export async function finishTouches(db: Database, all: FinishedTouch[], now: Date): Promise<boolean[]> {
  // A touch finished twice at once (an old lease holder and a new one) is recorded once, for the first.
  const seen = new Set<string>();
  const finished = all.filter((f) => !seen.has(f.touchId) && seen.add(f.touchId));
  const col = <T>(pick: (r: TouchResult) => T | undefined) => finished.map((f) => pick(f.result) ?? null);
  const { rows } = await sql<{ id: string }>`
    with input as (
      select * from unnest(
        ${finished.map((f) => f.touchId)}::uuid[], ${col((r) => r.status)}::text[], ${col((r) => r.reason)}::text[],
        ${col((r) => r.messageId)}::text[], ${col((r) => (r.content === undefined ? undefined : JSON.stringify(r.content)))}::jsonb[],
        ${col((r) => r.content !== undefined)}::boolean[], ${col((r) => r.channel)}::text[], ${col((r) => r.actor ?? 'worker')}::text[],
        ${col((r) => (r.letterPdf ? Buffer.from(r.letterPdf) : undefined))}::bytea[]
      ) as u(id, status, reason, message_id, content, has_content, channel, actor, letter_pdf)
    ), ${lockedTouchesCte(finished.map((f) => f.touchId))}, done as (
      update touches t set
        status = u.status,
        status_reason = u.reason,
        lease_until = null,
        updated_at = ${now},
        queued_at = case u.status when 'queued' then ${now}::timestamptz when 'scheduled' then null else t.queued_at end,
        completed_at = case when u.status in ('queued', 'scheduled') then t.completed_at else ${now}::timestamptz end,
        message_id = coalesce(u.message_id, t.message_id),
        content = case when u.has_content then u.content else t.content end,
        channel = coalesce(u.channel, t.channel),
        letter_pdf = coalesce(u.letter_pdf, t.letter_pdf)
      from input u join locked l on l.id = u.id
      where t.id = u.id and l.status = 'queued'
      returning t.id
    ), events as (
      insert into touch_events (touch_id, at, status, reason, actor)
      select u.id, ${now}, u.status, u.reason, u.actor from input u join done on done.id = u.id
    )
    select id from done`.execute(db);
  const recorded = new Set(rows.map((r) => r.id));
  return all.map((f) => recorded.delete(f.touchId));
}
