/**
 * Tasks: the calls staff owe, escalations and complaints; the people who may take them; reminder bookkeeping; and
 * staff notes on customers. Every change that must happen once (a task per call attempt, one escalation, one
 * reminder an hour) is a conditional write, so any number of workers may run the same sweep.
 */
import { sql } from 'kysely';
import type { Database } from '../database';
import type { Fallbacks, Person } from '../../domain/call-task';
import type { StaffRole } from '../../domain/types';
import { cancelCallTouches } from './touch-lifecycle.repository';

/** TaskKind is what a task asks for. */
export type TaskKind = 'call' | 'complaint' | 'escalation' | 'cleanup';

/** TaskStatus is the life cycle of a task. */
export type TaskStatus = 'open' | 'done' | 'cancelled';

/** StaffCalendar is a person with what choosing, reminding and escalating need: role, manager and working time. */
export interface StaffCalendar extends Person {
  name: string;
  title: string | null;
  email: string;
  timezone: string | null;
  workingDays: number[];
  workStart: string;
  workEnd: string;
}

/** TaskView is a task with its customer, assignee and touch, as staff see it. */
export interface TaskView {
  id: string;
  kind: TaskKind;
  status: TaskStatus;
  attempt: number;
  dueAt: Date;
  purpose: string | null;
  talkingPoints: string[];
  outcome: string | null;
  notes: string | null;
  sourceTaskId: string | null;
  remindedAt: Date | null;
  escalatedAt: Date | null;
  escalatedTo: string | null;
  completedAt: Date | null;
  createdAt: Date;
  assignee: { id: string; name: string; email: string } | null;
  customer: {
    id: string;
    firstName: string | null;
    lastName: string | null;
    phone: string | null;
    paused: boolean;
    timezone: string | null;
  };
  touch: { id: string; step: number; channel: string; status: string; planRunId: string | null } | null;
}

/** NewTask is a task to open. */
export interface NewTask {
  touchId?: string | null;
  sourceTaskId?: string | null;
  customerId: string;
  assigneeId: string | null;
  kind: TaskKind;
  dueAt: Date;
  attempt?: number;
  purpose: string | null;
  talkingPoints?: string[];
  notes?: string | null;
  createdAt: Date;
}

/** TaskFilter selects tasks for a list; unset fields do not filter. */
export interface TaskFilter {
  assigneeId?: string;
  status?: TaskStatus;
  dueFrom?: Date | null;
  dueTo?: Date;
  limit: number;
}

/** HistoryItem is one recent event on a customer's timeline, for a caller's context. */
export interface HistoryItem {
  at: Date;
  type: 'touch' | 'task' | 'note';
  status: string | null;
  detail: string | null;
}

const STAFF_COLUMNS = [
  'id',
  'name',
  'title',
  'email',
  'role',
  'managerId',
  'active',
  'timezone',
  'workingDays',
  'workStart',
  'workEnd',
] as const;

function toCalendar(row: {
  id: string;
  name: string;
  title: string | null;
  email: string;
  role: string;
  managerId: string | null;
  active: boolean;
  timezone: string | null;
  workingDays: number[];
  workStart: string;
  workEnd: string;
}): StaffCalendar {
  return { ...row, role: row.role as StaffRole };
}

/**
 * loadPeople returns the given staff members and everyone up their manager chains, plus the fallbacks (first
 * active executive, manager, anyone), in two queries, so choosing an assignee costs the same however long the chain.
 */
export async function loadPeople(
  db: Database,
  ids: Array<string | null>,
): Promise<{ people: Map<string, StaffCalendar>; fallbacks: Fallbacks }> {
  const wanted = [...new Set(ids.filter((id): id is string => !!id))];
  const people = new Map<string, StaffCalendar>();
  if (wanted.length > 0) {
    const rows = await sql<StaffCalendar>`
      with recursive chain (id, depth) as (
        select id, 0 from staff where id = any(${wanted}::uuid[])
        union
        select s.manager_id, c.depth + 1 from chain c join staff s on s.id = c.id
        where s.manager_id is not null and c.depth < 6
      )
      select s.id, s.name, s.title, s.email, s.role, s.manager_id as "managerId", (s.active and not s.pending) as active, s.timezone,
             s.working_days as "workingDays", s.work_start as "workStart", s.work_end as "workEnd"
      from staff s where s.id in (select id from chain)`.execute(db);
    for (const r of rows.rows) people.set(r.id, toCalendar(r));
  }
  const first = await sql<StaffCalendar & { pick: string }>`
      (select 'executive' as pick, * from (select id, name, title, email, role, manager_id as "managerId", active, timezone,
        working_days as "workingDays", work_start as "workStart", work_end as "workEnd", created_at from staff
        where active and not pending and role = 'executive' order by created_at, id limit 1) e)
      union all
      (select 'manager', * from (select id, name, title, email, role, manager_id, active, timezone, working_days, work_start,
        work_end, created_at from staff where active and not pending and role = 'manager' order by created_at, id limit 1) m)
      union all
      (select 'anyone', * from (select id, name, title, email, role, manager_id, active, timezone, working_days, work_start,
        work_end, created_at from staff where active and not pending order by created_at, id limit 1) a)`.execute(db);
  const pick = (name: string): StaffCalendar | null => {
    const row = first.rows.find((r) => r.pick === name);
    if (!row) return null;
    const { pick: _pick, ...rest } = row as StaffCalendar & { pick: string; createdAt?: unknown };
    const person = toCalendar(rest);
    people.set(person.id, person);
    return person;
  };
  return { people, fallbacks: { executive: pick('executive'), manager: pick('manager'), anyone: pick('anyone') } };
}

/** findStaffCalendar returns one person with their working time, or null. */
export async function findStaffCalendar(db: Database, id: string): Promise<StaffCalendar | null> {
  const row = await db
    .selectFrom('staff')
    .select([...STAFF_COLUMNS])
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? toCalendar(row) : null;
}

function taskValues(t: NewTask) {
  return {
    touchId: t.touchId ?? null,
    sourceTaskId: t.sourceTaskId ?? null,
    customerId: t.customerId,
    assigneeId: t.assigneeId,
    kind: t.kind,
    dueAt: t.dueAt,
    attempt: t.attempt ?? 1,
    purpose: t.purpose,
    talkingPoints: JSON.stringify(t.talkingPoints ?? []),
    notes: t.notes ?? null,
    createdAt: t.createdAt,
  };
}

/**
 * insertCallTasks opens attempt `attempt` of call touches' tasks, in one statement, skipping those that exist (the
 * unique (touch, attempt) key makes a re-run delivery harmless).
 */
export async function insertCallTasks(db: Database, list: (NewTask & { touchId: string })[]): Promise<void> {
  if (list.length === 0) return;
  await db
    .insertInto('tasks')
    .values(list.map(taskValues))
    .onConflict((oc) => oc.columns(['touchId', 'attempt']).where('touchId', 'is not', null).doNothing())
    .execute();
}

/** insertTask opens a task and returns its id. */
export async function insertTask(db: Database, t: NewTask): Promise<string> {
  const row = await db.insertInto('tasks').values(taskValues(t)).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

function baseQuery(db: Database) {
  return db
    .selectFrom('tasks as k')
    .innerJoin('customers as c', 'c.id', 'k.customerId')
    .leftJoin('staff as s', 's.id', 'k.assigneeId')
    .leftJoin('touches as t', 't.id', 'k.touchId')
    .select([
      'k.id',
      'k.kind',
      'k.status',
      'k.attempt',
      'k.dueAt',
      'k.purpose',
      'k.talkingPoints',
      'k.outcome',
      'k.notes',
      'k.sourceTaskId',
      'k.remindedAt',
      'k.escalatedAt',
      'k.escalatedTo',
      'k.completedAt',
      'k.createdAt',
      'k.assigneeId',
      's.name as assigneeName',
      's.email as assigneeEmail',
      'c.id as customerId',
      'c.firstName',
      'c.lastName',
      'c.phone',
      'c.paused',
      'c.timezone as customerTimezone',
      'k.touchId',
      't.step',
      't.channel',
      't.status as touchStatus',
      't.planRunId',
    ]);
}

type BaseRow = Awaited<ReturnType<ReturnType<typeof baseQuery>['execute']>>[number];

function toView(r: BaseRow): TaskView {
  return {
    id: r.id,
    kind: r.kind as TaskKind,
    status: r.status as TaskStatus,
    attempt: r.attempt,
    dueAt: r.dueAt,
    purpose: r.purpose,
    talkingPoints: (r.talkingPoints as string[] | null) ?? [],
    outcome: r.outcome,
    notes: r.notes,
    sourceTaskId: r.sourceTaskId,
    remindedAt: r.remindedAt,
    escalatedAt: r.escalatedAt,
    escalatedTo: r.escalatedTo,
    completedAt: r.completedAt,
    createdAt: r.createdAt,
    assignee:
      r.assigneeId && r.assigneeName ? { id: r.assigneeId, name: r.assigneeName, email: r.assigneeEmail ?? '' } : null,
    customer: {
      id: r.customerId,
      firstName: r.firstName,
      lastName: r.lastName,
      phone: r.phone,
      paused: r.paused,
      timezone: r.customerTimezone,
    },
    touch:
      r.touchId && r.step !== null
        ? {
            id: r.touchId,
            step: r.step,
            channel: r.channel ?? 'call',
            status: r.touchStatus ?? '',
            planRunId: r.planRunId,
          }
        : null,
  };
}

/** lockTask locks a task row until the transaction ends, so two outcomes on one task run one after the other; false when absent. */
export async function lockTask(db: Database, id: string): Promise<boolean> {
  return Boolean(await db.selectFrom('tasks').select('id').where('id', '=', id).forUpdate().executeTakeFirst());
}

/** findTask returns one task with its customer, assignee and touch, or null. */
export async function findTask(db: Database, id: string): Promise<TaskView | null> {
  const row = await baseQuery(db).where('k.id', '=', id).executeTakeFirst();
  return row ? toView(row) : null;
}

/** listTasks returns tasks matching the filter, earliest due first. */
export async function listTasks(db: Database, f: TaskFilter): Promise<TaskView[]> {
  let q = baseQuery(db);
  if (f.assigneeId) q = q.where('k.assigneeId', '=', f.assigneeId);
  if (f.status) q = q.where('k.status', '=', f.status);
  if (f.dueFrom) q = q.where('k.dueAt', '>=', f.dueFrom);
  if (f.dueTo) q = q.where('k.dueAt', '<', f.dueTo);
  return (await q.orderBy('k.dueAt').orderBy('k.id').limit(f.limit).execute()).map(toView);
}

/**
 * recentHistory returns, per customer, their latest finished touches, tasks and notes (at most `perKind` of each),
 * newest first, in three queries however many customers are asked for.
 */
export async function recentHistory(
  db: Database,
  customerIds: string[],
  perKind = 5,
): Promise<Map<string, HistoryItem[]>> {
  const ids = [...new Set(customerIds)];
  const result = new Map<string, HistoryItem[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return result;
  const rows = await sql<HistoryItem & { customerId: string }>`
    select "customerId", at, type, status, detail from (
      select customer_id as "customerId", coalesce(completed_at, due_at) as at, 'touch' as type, status,
             concat('step ', step, ' ', channel, coalesce(': ' || status_reason, '')) as detail,
             row_number() over (partition by customer_id order by coalesce(completed_at, due_at) desc) as n
      from touches where customer_id = any(${ids}::uuid[]) and status not in ('scheduled', 'queued')
    ) x where n <= ${perKind}
    union all
    select "customerId", at, type, status, detail from (
      select customer_id as "customerId", completed_at as at, 'task' as type, outcome as status,
             concat(kind, ' attempt ', attempt, coalesce(': ' || notes, '')) as detail,
             row_number() over (partition by customer_id order by completed_at desc) as n
      from tasks where customer_id = any(${ids}::uuid[]) and completed_at is not null
    ) y where n <= ${perKind}
    union all
    select "customerId", at, type, status, detail from (
      select customer_id as "customerId", created_at as at, 'note' as type,
             case when complaint then 'complaint' else 'note' end as status, body as detail,
             row_number() over (partition by customer_id order by created_at desc) as n
      from notes where customer_id = any(${ids}::uuid[])
    ) z where n <= ${perKind}`.execute(db);
  for (const { customerId, ...item } of rows.rows) result.get(customerId)?.push(item);
  for (const list of result.values()) list.sort((a, b) => b.at.getTime() - a.at.getTime());
  return result;
}

/**
 * completeTask records an outcome on an open task and returns true; false when the task was no longer open (another
 * request got there first), so an outcome's effects happen once.
 */
export async function completeTask(
  db: Database,
  id: string,
  r: { outcome: string | null; notes: string | null; at: Date; status?: TaskStatus },
): Promise<boolean> {
  const rows = await db
    .updateTable('tasks')
    .set({ status: r.status ?? 'done', outcome: r.outcome, notes: r.notes, completedAt: r.at })
    .where('id', '=', id)
    .where('status', '=', 'open')
    .returning('id')
    .execute();
  return rows.length > 0;
}

/** moveTask gives an open task a new due time (and a fresh reminder); false when it is not open. */
export async function moveTask(db: Database, id: string, dueAt: Date): Promise<boolean> {
  const rows = await db
    .updateTable('tasks')
    .set({ dueAt, remindedAt: null })
    .where('id', '=', id)
    .where('status', '=', 'open')
    .returning('id')
    .execute();
  return rows.length > 0;
}

/** closeTasksFrom closes the open tasks made from `sourceTaskId` (its escalation), noting why; returns how many. */
export async function closeTasksFrom(db: Database, sourceTaskId: string, at: Date, notes: string): Promise<string[]> {
  const rows = await db
    .updateTable('tasks')
    .set({ status: 'done', notes, completedAt: at })
    .where('sourceTaskId', '=', sourceTaskId)
    .where('kind', '=', 'escalation')
    .where('status', '=', 'open')
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

/** ReminderTask is an open task due soon, with what a reminder email lists. */
export interface ReminderTask {
  id: string;
  assigneeId: string;
  kind: TaskKind;
  dueAt: Date;
  remindedAt: Date | null;
  purpose: string | null;
  customerName: string;
  phone: string | null;
}

/** ReminderCandidate is an active staff member with open tasks due before a bound, and their reminder state. */
export interface ReminderCandidate extends StaffCalendar {
  lastReminderAt: Date | null;
  /** YYYY-MM-DD of the last digest, or null. */
  lastDigestOn: string | null;
  tasks: ReminderTask[];
}

/** listReminderCandidates returns active, confirmed staff with open tasks due before `dueBefore`, with those tasks, due order. */
export async function listReminderCandidates(
  db: Database,
  dueBefore: Date,
  limit: number,
): Promise<ReminderCandidate[]> {
  const tasks = await db
    .selectFrom('tasks as k')
    .innerJoin('customers as c', 'c.id', 'k.customerId')
    .innerJoin('staff as s', 's.id', 'k.assigneeId')
    .select([
      'k.id',
      'k.assigneeId',
      'k.kind',
      'k.dueAt',
      'k.remindedAt',
      'k.purpose',
      'c.firstName',
      'c.lastName',
      'c.phone',
    ])
    .where('k.status', '=', 'open')
    .where('k.dueAt', '<', dueBefore)
    .where('s.active', '=', true)
    // Nobody's customers are emailed to a person a manager has not confirmed yet.
    .where('s.pending', '=', false)
    .orderBy('k.dueAt')
    .limit(limit)
    .execute();
  const ids = [...new Set(tasks.map((t) => t.assigneeId as string))];
  if (ids.length === 0) return [];
  const staff = await db
    .selectFrom('staff')
    .select([
      ...STAFF_COLUMNS,
      'lastReminderAt',
      sql<string | null>`to_char(last_digest_on, 'YYYY-MM-DD')`.as('lastDigestOn'),
    ])
    .where('id', 'in', ids)
    .execute();
  return staff.map((s) => ({
    ...toCalendar(s),
    lastReminderAt: s.lastReminderAt,
    lastDigestOn: s.lastDigestOn,
    tasks: tasks
      .filter((t) => t.assigneeId === s.id)
      .map((t) => ({
        id: t.id,
        assigneeId: t.assigneeId as string,
        kind: t.kind as TaskKind,
        dueAt: t.dueAt,
        remindedAt: t.remindedAt,
        purpose: t.purpose,
        customerName: [t.firstName, t.lastName].filter(Boolean).join(' ') || 'Unnamed customer',
        phone: t.phone,
      })),
  }));
}

/** ReminderSlot is what a claimed reminder replaced, so a failed send can give the slot back. */
export interface ReminderSlot {
  previousReminderAt: Date | null;
  previousDigestOn: string | null;
}

/**
 * claimReminderSlot takes the person's reminder slot at `now` when their last reminder was at or before
 * `notAfter` (and, for a digest, none was sent on `digestOn` yet); null when another worker or an earlier run has it.
 * One conditional update, so two workers can never both send.
 */
export async function claimReminderSlot(
  db: Database,
  staffId: string,
  now: Date,
  notAfter: Date,
  digestOn: string | null,
): Promise<ReminderSlot | null> {
  const result = await sql<ReminderSlot>`
    with old as (select id, last_reminder_at, last_digest_on from staff where id = ${staffId} for update)
    update staff s set last_reminder_at = ${now},
      last_digest_on = coalesce(${digestOn}::date, s.last_digest_on)
    from old
    where s.id = old.id
      and (old.last_reminder_at is null or old.last_reminder_at <= ${notAfter})
      and (${digestOn}::date is null or old.last_digest_on is distinct from ${digestOn}::date)
    returning old.last_reminder_at as "previousReminderAt", to_char(old.last_digest_on, 'YYYY-MM-DD') as "previousDigestOn"`.execute(
    db,
  );
  return result.rows[0] ?? null;
}

/** releaseReminderSlot gives a claimed slot back after a failed send, unless someone has claimed it since. */
export async function releaseReminderSlot(
  db: Database,
  staffId: string,
  claimedAt: Date,
  slot: ReminderSlot,
): Promise<void> {
  await sql`
    update staff set last_reminder_at = ${slot.previousReminderAt}, last_digest_on = ${slot.previousDigestOn}::date
    where id = ${staffId} and last_reminder_at = ${claimedAt}`.execute(db);
}

/** markReminded records that the tasks were in a reminder sent at `at`. */
export async function markReminded(db: Database, taskIds: string[], at: Date): Promise<void> {
  if (taskIds.length === 0) return;
  await db
    .updateTable('tasks')
    .set({ remindedAt: at })
    .where('id', 'in', taskIds)
    .where('remindedAt', 'is', null)
    .execute();
}

/** EscalationCandidate is an open call task past due, with its assignee's calendar. */
export interface EscalationCandidate {
  id: string;
  customerId: string;
  touchId: string | null;
  dueAt: Date;
  purpose: string | null;
  assigneeId: string | null;
  timezone: string | null;
  workingDays: number[] | null;
}

/** listEscalationCandidates returns open, not yet escalated call tasks due before `dueBefore`. */
export async function listEscalationCandidates(
  db: Database,
  dueBefore: Date,
  limit: number,
): Promise<EscalationCandidate[]> {
  return db
    .selectFrom('tasks as k')
    .leftJoin('staff as s', 's.id', 'k.assigneeId')
    .select([
      'k.id',
      'k.customerId',
      'k.touchId',
      'k.dueAt',
      'k.purpose',
      'k.assigneeId',
      's.timezone',
      's.workingDays',
    ])
    .where('k.status', '=', 'open')
    .where('k.kind', '=', 'call')
    .where('k.escalatedAt', 'is', null)
    .where('k.dueAt', '<', dueBefore)
    .orderBy('k.dueAt')
    .limit(limit)
    .execute();
}

/** markEscalated stamps a task escalated to `to` unless it already was; true when this call did it. */
export async function markEscalated(db: Database, taskId: string, to: string | null, at: Date): Promise<boolean> {
  const rows = await db
    .updateTable('tasks')
    .set({ escalatedAt: at, escalatedTo: to })
    .where('id', '=', taskId)
    .where('escalatedAt', 'is', null)
    .where('status', '=', 'open')
    .returning('id')
    .execute();
  return rows.length > 0;
}

/** OrphanTask is an open task whose assignee is no longer active. */
export interface OrphanTask {
  id: string;
  assigneeId: string;
  kind: TaskKind;
}

/**
 * listTasksOfInactiveStaff returns open tasks assigned to people marked inactive or not yet confirmed (pending), or
 * to this one such person, if given.
 */
export async function listTasksOfInactiveStaff(db: Database, limit: number, staffId?: string): Promise<OrphanTask[]> {
  const rows = await db
    .selectFrom('tasks as k')
    .innerJoin('staff as s', 's.id', 'k.assigneeId')
    .select(['k.id', 'k.assigneeId', 'k.kind'])
    .where('k.status', '=', 'open')
    .where((eb) => eb.or([eb('s.active', '=', false), eb('s.pending', '=', true)]))
    .$if(staffId !== undefined, (qb) => qb.where('s.id', '=', staffId!))
    .orderBy('k.dueAt')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, assigneeId: r.assigneeId as string, kind: r.kind as TaskKind }));
}

/** reassignTask moves an open task from one assignee to another; false when it changed meanwhile. */
export async function reassignTask(db: Database, taskId: string, from: string, to: string): Promise<boolean> {
  const rows = await db
    .updateTable('tasks')
    .set({ assigneeId: to, remindedAt: null })
    .where('id', '=', taskId)
    .where('assigneeId', '=', from)
    .where('status', '=', 'open')
    .returning('id')
    .execute();
  return rows.length > 0;
}

/** insertNote stores a staff note on a customer and returns its id. */
export async function insertNote(
  db: Database,
  n: { customerId: string; staffId: string | null; body: string; complaint: boolean; at: Date },
): Promise<string> {
  const row = await db
    .insertInto('notes')
    .values({ customerId: n.customerId, staffId: n.staffId, body: n.body, complaint: n.complaint, createdAt: n.at })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** latestSalespersonOf returns the salesperson of the customer's latest sale, or null. */
export async function latestSalespersonOf(db: Database, customerId: string): Promise<string | null> {
  const row = await db
    .selectFrom('sales')
    .select('salespersonId')
    .where('customerId', '=', customerId)
    .orderBy('soldAt', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.salespersonId ?? null;
}

/**
 * cancelTasksOfUncontactable cancels the open tasks of customers who asked not to be contacted (or were erased)
 * and the call touches behind them; returns the cancelled task ids.
 */
export async function cancelTasksOfUncontactable(db: Database, at: Date): Promise<string[]> {
  const rows = await db
    .updateTable('tasks')
    .set({ status: 'cancelled', notes: 'do_not_contact', completedAt: at })
    .where('status', '=', 'open')
    .where('customerId', 'in', (eb) =>
      eb
        .selectFrom('customers')
        .select('id')
        .where((w) => w.or([w('doNotContact', '=', true), w('erasedAt', 'is not', null)])),
    )
    .returning(['id', 'touchId'])
    .execute();
  const touchIds = [...new Set(rows.map((r) => r.touchId).filter((id): id is string => !!id))];
  if (touchIds.length > 0) {
    await cancelCallTouches(db, touchIds, at, 'do_not_contact', 'worker');
  }
  return rows.map((r) => r.id);
}
