/**
 * The one owner of a touch's life: every change of a touch's status is made here, each with its event on the touch's
 * history in the same statement, and only as domain/touch-lifecycle's table allows. Also here: claiming due touches
 * for the queues (FOR UPDATE SKIP LOCKED, so any number of schedulers never claim one twice), finding ones lost from
 * Redis, and the send lease a worker holds while delivering. Other repositories create touches (their first events
 * written through notePlanned or plannedEventsSql) and read them; they never change their status.
 */
import { sql, type RawBuilder } from 'kysely';
import type { Database } from '../database';
import type { Channel, TouchStatus } from '../../domain/types';
import { assertMove, assertPlanned, isOpen, sourcesOf } from '../../domain/touch-lifecycle';

/** TouchEvent is one status change of a touch (or a note on its history: a retry, a late delivery). */
export interface TouchEvent {
  touchId: string;
  at: Date;
  status: string;
  reason: string | null;
  actor: string | null;
}

/** insertEvents appends events to the touches' history. */
async function insertEvents(db: Database, events: TouchEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db.insertInto('touchEvents').values(events).execute();
}

/**
 * lockedInIdOrder selects the given touches locked FOR UPDATE in id order. Every statement that changes many touches at
 * once takes its rows this way, so two of them (a worker's batch of results and a customer's opt-out, say) never
 * deadlock.
 */
export function lockedInIdOrder(db: Database, touchIds: string[]) {
  return db
    .selectFrom('touches')
    .select('id')
    .where('id', '=', sql<string>`any(${touchIds}::uuid[])`)
    .orderBy('id')
    .forUpdate();
}

/**
 * lockedTouchesCte is `locked`, a common table expression of the given touches' id, status, lease and print batch,
 * locked in id order (see lockedInIdOrder), for statements that go on to change some of them. They test the status on
 * `locked`, not on the table: a test of the table's `status = 'queued'` lets the planner scan the whole index of queued
 * touches (right after a claim its statistics say there are none; a backlog makes them thousands), where looking each
 * touch up by its key is what is wanted.
 */
function lockedTouchesCte(touchIds: string[]) {
  return sql`locked as materialized (
    select id, status, lease_until, letter_batch_id from touches where id = any(${touchIds}::uuid[]) order by id for update
  )`;
}

/**
 * plannedEventsSql is the statement part that writes the first event of each touch just planned, from `rows` (a
 * common table expression with id, status and status_reason, and `at` unless given): a touch's life starts in its
 * planned status.
 */
export function plannedEventsSql(rows: string, at?: Date) {
  return sql`insert into touch_events (touch_id, at, status, reason)
    select id, ${at ? sql`${at}::timestamptz` : sql.ref('at')}, status, status_reason from ${sql.table(rows)}`;
}

/** notePlanned writes the first event of touches just stored (each in a status a plan may give). */
export async function notePlanned(
  db: Database,
  touches: { id: string; status: TouchStatus; reason: string | null }[],
  at: Date,
  actor: string | null,
): Promise<void> {
  for (const t of touches) assertPlanned(t.status);
  await insertEvents(
    db,
    touches.map((t) => ({ touchId: t.id, at, status: t.status, reason: t.reason, actor })),
  );
}

/** StatusChange is one move of some touches to `to`, with why, who and when. */
interface StatusChange {
  to: TouchStatus;
  reason: string | null;
  actor: string | null;
  at: Date;
  /** The statuses to move from; by default every status the life-cycle table lets move to `to`. */
  from?: readonly TouchStatus[];
  /** Further columns to set, as `column = value` fragments. */
  set?: RawBuilder<unknown>[];
  /** A further condition on the touch (`t`) or its locked row (`l`). */
  where?: RawBuilder<unknown>;
}

/**
 * changeStatus moves the touches `ids` (locked in id order) that are in one of the change's `from` statuses, writes
 * one event each in the same statement, and returns the ids moved. A touch leaving `queued` drops its send lease; one
 * put back to `scheduled` forgets when it was queued; one finished (not scheduled or queued) gets its completion time,
 * kept when it stays in the same status (a call tried again).
 */
async function changeStatus(db: Database, ids: string[], change: StatusChange): Promise<string[]> {
  if (ids.length === 0) return [];
  const from = change.from ?? sourcesOf(change.to);
  assertMove(from, change.to);
  const { to, at } = change;
  const extra = change.set && change.set.length > 0 ? sql`, ${sql.join(change.set)}` : sql``;
  const { rows } = await sql<{ id: string }>`
    with ${lockedTouchesCte(ids)}, moved as (
      update touches t set
        status = ${to}, status_reason = ${change.reason}, updated_at = ${at},
        lease_until = ${to === 'queued' ? sql`t.lease_until` : sql`null`},
        queued_at = ${to === 'queued' ? sql`${at}::timestamptz` : to === 'scheduled' ? sql`null` : sql`t.queued_at`},
        completed_at = ${isOpen(to) ? sql`null` : sql`case when l.status = ${to} then t.completed_at else ${at}::timestamptz end`}${extra}
      from locked l
      where t.id = l.id and l.status = any(${from}::text[]) ${change.where ? sql`and ${change.where}` : sql``}
      returning t.id
    ), events as (
      insert into touch_events (touch_id, at, status, reason, actor)
      select id, ${at}, ${to}, ${change.reason}, ${change.actor} from moved
    )
    select id from moved order by id`.execute(db);
  return rows.map((r) => r.id);
}

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
  assertMove(['scheduled'], 'queued');
  const result = await sql<ClaimedTouch>`
    with due as (
      select t.id from touches t
      where t.status = 'scheduled' and t.due_at <= ${until}
        ${channels ? sql`and t.channel = any(${channels}::text[])` : sql``}
        and not exists (select 1 from customers c where c.id = t.customer_id and c.paused)
      order by t.due_at
      limit ${limit}
      for update of t skip locked
    ), claimed as (
      update touches t set status = 'queued', queued_at = ${now}, updated_at = ${now}
      from due where t.id = due.id
      returning t.id, t.channel, t.due_at as "dueAt"
    ), events as (
      insert into touch_events (touch_id, at, status, reason, actor)
      select id, ${now}, 'queued', null, 'scheduler' from claimed
    )
    select * from claimed`.execute(db);
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
  return restampQueued(db, now, sql`queued_at < ${queuedBefore}`, sql`queued_at`, limit);
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
  const rows = await restampQueued(db, now, sql`(${afterId}::uuid is null or id > ${afterId}::uuid)`, sql`id`, limit);
  return rows.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/**
 * restampQueued stamps queued again now up to `limit` queued touches matching `where` that no live lease holds and
 * that are not waiting in a letter batch, taken in `order` and skipping rows another reconciler holds; returns them.
 */
async function restampQueued(
  db: Database,
  now: Date,
  where: RawBuilder<unknown>,
  order: RawBuilder<unknown>,
  limit: number,
): Promise<ClaimedTouch[]> {
  const result = await sql<ClaimedTouch>`
    with lost as (
      select id from touches
      where status = 'queued' and (lease_until is null or lease_until < ${now})
        and letter_batch_id is null and ${where}
      order by ${order}
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
  await insertEvents(db, [{ touchId, at: now, status: 'retry', reason, actor: 'worker' }]);
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
  for (const f of finished) assertMove(['queued'], f.result.status);
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

/**
 * fileTouchesIntoBatch puts queued, unfiled letter touches into a print batch and records it on each touch's history;
 * returns the ids filed (a touch no longer queued, cancelled meanwhile, or already filed is left out).
 */
export async function fileTouchesIntoBatch(
  db: Database,
  touchIds: string[],
  batchId: string,
  now: Date,
  reason: string,
): Promise<Set<string>> {
  const filed = await changeStatus(db, touchIds, {
    to: 'queued',
    from: ['queued'],
    reason,
    actor: 'worker',
    at: now,
    set: [sql`letter_batch_id = ${batchId}`],
    where: sql`l.letter_batch_id is null`,
  });
  return new Set(filed);
}

/** markBatchLettersSent marks the queued letters of a print batch sent (it was mailed); returns their ids. */
export async function markBatchLettersSent(
  db: Database,
  batchId: string,
  at: Date,
  actor: string,
  reason: string,
): Promise<string[]> {
  const ids = await db
    .selectFrom('touches')
    .select('id')
    .where('letterBatchId', '=', batchId)
    .where('status', '=', 'queued')
    .execute();
  return changeStatus(
    db,
    ids.map((t) => t.id),
    { to: 'sent', from: ['queued'], reason, actor, at, where: sql`l.letter_batch_id = ${batchId}` },
  );
}

/** OpenTouches picks not-yet-delivered touches: of some runs, a customer, an edition or a list (optionally of some channels). */
export interface OpenTouches {
  runIds?: string[];
  customerId?: string;
  newsletterId?: string;
  touchIds?: string[];
  channels?: Channel[];
}

/** cancelOpenTouches cancels the scheduled or queued touches `scope` picks, recording why; returns how many. */
export async function cancelOpenTouches(
  db: Database,
  scope: OpenTouches,
  at: Date,
  reason: string,
  actor: string | null,
): Promise<number> {
  let open = db.selectFrom('touches').select('id').where('status', 'in', ['scheduled', 'queued']);
  if (scope.runIds) open = open.where('planRunId', '=', sql<string>`any(${scope.runIds}::uuid[])`);
  if (scope.customerId) open = open.where('customerId', '=', scope.customerId);
  if (scope.newsletterId) open = open.where('newsletterId', '=', scope.newsletterId);
  if (scope.channels) open = open.where('channel', 'in', scope.channels);
  if (scope.touchIds) open = open.where('id', '=', sql<string>`any(${scope.touchIds}::uuid[])`);
  const ids = (await open.execute()).map((r) => r.id);
  const cancelled = await changeStatus(db, ids, { to: 'cancelled', from: ['scheduled', 'queued'], reason, actor, at });
  return cancelled.length;
}

/** cancelCallTouches cancels call touches whose task is out (`sent`), as their tasks are cancelled; returns how many. */
export async function cancelCallTouches(
  db: Database,
  touchIds: string[],
  at: Date,
  reason: string,
  actor: string,
): Promise<number> {
  const cancelled = await changeStatus(db, touchIds, {
    to: 'cancelled',
    from: ['sent'],
    reason,
    actor,
    at,
    where: sql`t.channel = 'call'`,
  });
  return cancelled.length;
}

/**
 * closeCallTouch moves a call touch from `sent` (a task is out) to done or failed, recording the event; false when
 * it was not `sent` any more.
 */
export async function closeCallTouch(
  db: Database,
  touchId: string,
  status: 'done' | 'failed',
  reason: string,
  at: Date,
  actor: string,
): Promise<boolean> {
  const closed = await changeStatus(db, [touchId], { to: status, from: ['sent'], reason, actor, at });
  return closed.length > 0;
}

/** noteCallRetried writes on a call touch's history that its call is tried again by a new task (it stays `sent`). */
export async function noteCallRetried(db: Database, touchId: string, at: Date, reason: string, actor: string) {
  await changeStatus(db, [touchId], { to: 'sent', from: ['sent'], reason, actor, at, where: sql`t.channel = 'call'` });
}

/**
 * rerouteTouches moves touches to another channel and back to `scheduled` (the scheduler claims them again for their
 * new queue), recording the change. Only touches not held by a worker are moved: scheduled ones, and written steps
 * skipped for want of an address.
 */
export async function rerouteTouches(
  db: Database,
  ids: string[],
  channel: 'email' | 'letter',
  at: Date,
  reason: string,
): Promise<number> {
  const moved = await changeStatus(db, ids, {
    to: 'scheduled',
    from: ['scheduled', 'skipped'],
    reason,
    actor: 'customer',
    at,
    set: [sql`channel = ${channel}`],
    where: sql`(l.status = 'scheduled' or t.status_reason = 'no_address')`,
  });
  return moved.length;
}

/** RetimedTouch is a scheduled touch given a new due time and channel (and caller, for a call). */
export interface RetimedTouch {
  touchId: string;
  dueAt: Date;
  channel: Channel;
  assigneeId: string | null;
}

/** retimeTouches re-times scheduled touches (a re-plan) and records each move on the timeline; returns how many. */
export async function retimeTouches(db: Database, moves: RetimedTouch[], at: Date, actor: string): Promise<number> {
  if (moves.length === 0) return 0;
  assertMove(['scheduled'], 'scheduled');
  const { rows } = await sql<{ id: string }>`
    with ${lockedTouchesCte(moves.map((m) => m.touchId))}, moved as (
      update touches t
         set due_at = v.due_at, channel = v.channel, assignee_id = coalesce(v.assignee_id, t.assignee_id),
             updated_at = ${at}
        from locked l,
             unnest(${moves.map((m) => m.touchId)}::uuid[], ${moves.map((m) => m.dueAt.toISOString())}::timestamptz[],
                    ${moves.map((m) => m.channel)}::text[], ${moves.map((m) => m.assigneeId)}::uuid[])
             as v(id, due_at, channel, assignee_id)
       where t.id = v.id and l.id = v.id and l.status = 'scheduled'
      returning t.id, 'replanned: ' || t.channel || ' due ' || to_char(t.due_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') as reason
    ), events as (
      insert into touch_events (touch_id, at, status, reason, actor)
      select id, ${at}, 'scheduled', reason, ${actor} from moved
    )
    select id from moved`.execute(db);
  return rows.length;
}
