/**
 * Call tasks as use cases: opening the task for a due call touch, listing and reading tasks, recording call
 * outcomes (which move the plan), and staff notes with complaints that pause a customer's plan.
 */
import * as tasks from '../db/repositories/task.repository';
import { findCustomer, updateCustomer } from '../db/repositories/customer.repository';
import { audit } from '../db/repositories/access.repository';
import * as lifecycle from '../db/repositories/touch-lifecycle.repository';
import type { LeasedTouch, TouchResult } from '../db/repositories/touch-lifecycle.repository';
import type { Database } from '../db/database';
import { renderTalkingPoints, TemplateError } from '../channels/templates';
import {
  chooseAssignee,
  chooseManager,
  dueRange,
  rescheduleDueAt,
  type ReschedulePreset,
  outcomeEffect,
  retryDueAt,
  taskDueAt,
  type CallOutcome,
  type Fallbacks,
  type DueFilter,
  type WorkCalendar,
} from '../domain/call-task';
import type { ApiRole, StaffRole } from '../domain/types';
import { eligibility } from '../domain/eligibility';
import { loadTouchContext, type TouchContext, type TouchRowsLoader } from './touch-context.service';
import { AppError, ConflictError, NotFoundError, ValidationError } from './errors';
import { requireCustomer, scopeOf, seesTask } from './visibility.service';
import type { ServiceContext } from './context';

/** Caller is who asks: the key's role, the staff member a staff key belongs to, and the name audits record. */
export interface Caller {
  role: ApiRole;
  staffId: string | null;
  actor: string;
}

/** TaskWithHistory is a task with its customer's recent history, as the task list shows it. */
export type TaskWithHistory = tasks.TaskView & { history: tasks.HistoryItem[] };

/** calendarOf is a person's working time, with the business default zone when they have none. */
export function calendarOf(ctx: ServiceContext, person: tasks.StaffCalendar | null | undefined): WorkCalendar {
  return {
    zone: person?.timezone ?? ctx.settings.defaultTimezone,
    days: person?.workingDays?.length ? person.workingDays : [1, 2, 3, 4, 5],
    start: person?.workStart ?? '09:00',
    end: person?.workEnd ?? '17:00',
  };
}

/**
 * openCallTasks turns due call touches into tasks for the people their steps name and returns how each touch ended
 * (aligned with `touches`): `sent` (task_created) once the task exists, `cancelled` for a customer who may not be
 * contacted, or back to `scheduled` while the customer is paused. The people are read and the tasks written in one
 * round of statements for all of them; running it twice for one touch opens one task.
 */
export async function openCallTasks(
  ctx: ServiceContext,
  touches: LeasedTouch[],
  loadRows?: TouchRowsLoader,
): Promise<TouchResult[]> {
  const contexts = await Promise.all(touches.map((touch) => loadTouchContext(ctx, touch, loadRows)));
  const results = contexts.map((tc): TouchResult =>
    tc ? (refusedCall(tc.customer) ?? TASK_CREATED) : { status: 'cancelled', reason: 'customer_gone' },
  );
  const open = contexts.filter((tc, i): tc is TouchContext => tc !== null && results[i] === TASK_CREATED);
  if (open.length === 0) return results;
  const { people, fallbacks } = await tasks.loadPeople(
    ctx.db,
    open.flatMap((tc) => [tc.touch.assigneeId, tc.sale?.salespersonId ?? null]),
  );
  await tasks.insertCallTasks(
    ctx.db,
    open.map((tc) => callTaskFor(ctx, tc, people, fallbacks)),
  );
  return results;
}

const TASK_CREATED: Readonly<TouchResult> = Object.freeze({ status: 'sent', reason: 'task_created', actor: 'worker' });

/** refusedCall says why a customer's call may not become a task now, or null when it may (see eligibility). */
function refusedCall(customer: TouchContext['customer']): TouchResult | null {
  const decision = eligibility(customer, 'call');
  if (decision.action === 'wait') return { status: 'scheduled', reason: decision.reason };
  if (decision.action === 'skip') return { status: decision.status, reason: decision.reason };
  return null;
}

/** callTaskFor chooses the assignee of a call touch and writes its talking points for them. */
function callTaskFor(
  ctx: ServiceContext,
  tc: TouchContext,
  people: Map<string, tasks.StaffCalendar>,
  fallbacks: Fallbacks,
): tasks.NewTask & { touchId: string } {
  const { touch, customer, step, sale } = tc;
  const stepRole = (step?.assignee ?? touch.senderRole ?? 'salesperson') as StaffRole;
  const salespersonId = sale?.salespersonId ?? null;
  const choice = chooseAssignee({
    stepRole,
    preferredId: touch.assigneeId ?? salespersonId,
    salespersonId,
    people,
    fallbacks,
  });
  const assignee = choice.assigneeId ? (people.get(choice.assigneeId) ?? null) : null;
  if (choice.rule !== 'assigned')
    ctx.log.info({ touchId: touch.id, rule: choice.rule, assigneeId: choice.assigneeId }, 'call assigned by fallback');

  const message = {
    ...tc.message,
    sender: assignee ? { name: assignee.name, title: assignee.title } : tc.message.sender,
  };
  const points = step?.talkingPoints ?? [];
  let talkingPoints: string[];
  try {
    talkingPoints = renderTalkingPoints(points, message);
  } catch (err) {
    // Templates are checked when saved; one that still fails should not cost the call, so the caller gets the raw text.
    if (!(err instanceof TemplateError)) throw err;
    ctx.log.warn({ touchId: touch.id, err: err.message }, 'talking points did not render; using them as written');
    talkingPoints = points;
  }
  return {
    touchId: touch.id,
    customerId: customer.id,
    assigneeId: choice.assigneeId,
    kind: 'call',
    dueAt: taskDueAt(touch.dueAt, calendarOf(ctx, assignee)),
    attempt: 1,
    purpose: step?.purpose ?? null,
    talkingPoints,
    createdAt: ctx.clock.now(),
  };
}

/** TaskQuery is what the task list may be filtered by. */
export interface TaskQuery {
  assignee?: string;
  status?: tasks.TaskStatus;
  due?: DueFilter;
  limit?: number;
}

async function withHistory(ctx: ServiceContext, list: tasks.TaskView[]): Promise<TaskWithHistory[]> {
  const history = await tasks.recentHistory(
    ctx.db,
    list.map((t) => t.customer.id),
  );
  return list.map((t) => ({ ...t, history: history.get(t.customer.id) ?? [] }));
}

/**
 * listTasks returns tasks for the caller, earliest due first: a staff key sees its own (a manager's key may ask for
 * someone of their team with `assignee`; anyone else's list is empty); `due` is read in the assignee's time zone
 * (else the business default).
 */
export async function listTasks(ctx: ServiceContext, caller: Caller, q: TaskQuery): Promise<TaskWithHistory[]> {
  let assigneeId = q.assignee;
  if (caller.role === 'staff') {
    if (!caller.staffId) throw new AppError('forbidden', 'key: this staff key belongs to nobody');
    assigneeId = q.assignee ?? caller.staffId;
    const scope = await scopeOf(ctx, caller);
    if (!seesTask(scope, { assigneeId })) return [];
  }
  let range: { from: Date | null; to: Date } | null = null;
  if (q.due) {
    const person = assigneeId ? await tasks.findStaffCalendar(ctx.db, assigneeId) : null;
    range = dueRange(q.due, ctx.clock.now(), calendarOf(ctx, person).zone);
  }
  const list = await tasks.listTasks(ctx.db, {
    assigneeId,
    status: q.status,
    dueFrom: range?.from,
    dueTo: range?.to,
    limit: q.limit ?? 200,
  });
  return withHistory(ctx, list);
}

/** getTask returns one task with its customer's history; a task the caller may not see is not_found. */
export async function getTask(ctx: ServiceContext, caller: Caller, id: string): Promise<TaskWithHistory> {
  const task = await tasks.findTask(ctx.db, id);
  if (!task || !seesTask(await scopeOf(ctx, caller), task)) throw new NotFoundError('task', id);
  return (await withHistory(ctx, [task]))[0]!;
}

const COMPLAINT_PURPOSE = 'Complaint: call the customer, listen and put it right; resume their plan when settled';

/**
 * openComplaint pauses the customer's plan (the scheduler skips paused customers), stores the complaint as a note
 * and opens a complaint task for the manager of `aboutStaffId` (else the customer's salesperson's manager).
 */
async function openComplaint(
  ctx: ServiceContext,
  db: Database,
  c: {
    customerId: string;
    aboutStaffId: string | null;
    noteStaffId: string | null;
    body: string;
    sourceTaskId: string | null;
    actor: string;
  },
): Promise<{ noteId: string; taskId: string }> {
  const now = ctx.clock.now();
  await updateCustomer(db, c.customerId, { paused: true });
  const noteId = await tasks.insertNote(db, {
    customerId: c.customerId,
    staffId: c.noteStaffId,
    body: c.body,
    complaint: true,
    at: now,
  });
  const about = c.aboutStaffId ?? (await tasks.latestSalespersonOf(db, c.customerId));
  const { people, fallbacks } = await tasks.loadPeople(db, [about]);
  const managerId = chooseManager(about, people, fallbacks);
  const taskId = await tasks.insertTask(db, {
    customerId: c.customerId,
    assigneeId: managerId,
    kind: 'complaint',
    dueAt: now,
    purpose: COMPLAINT_PURPOSE,
    notes: c.body,
    sourceTaskId: c.sourceTaskId,
    createdAt: now,
  });
  await audit(
    db,
    {
      actor: c.actor,
      action: 'customer.paused',
      entity: 'customer',
      entityId: c.customerId,
      detail: { reason: 'complaint', noteId },
      at: now,
    },
    {
      actor: c.actor,
      action: 'task.opened',
      entity: 'task',
      entityId: taskId,
      detail: { kind: 'complaint', assigneeId: managerId },
      at: now,
    },
  );
  return { noteId, taskId };
}

/**
 * applyOutcome closes one open task with `outcome` and carries out what the outcome does to the plan; false when
 * the task was no longer open. An outcome on an escalation is the outcome of the call it escalated.
 */
async function applyOutcome(
  ctx: ServiceContext,
  db: Database,
  task: tasks.TaskView,
  outcome: CallOutcome,
  notes: string | null,
  actor: string,
): Promise<boolean> {
  const now = ctx.clock.now();
  if (!(await tasks.completeTask(db, task.id, { outcome, notes, at: now }))) return false;
  await audit(db, {
    actor,
    action: 'task.outcome',
    entity: 'task',
    entityId: task.id,
    detail: { outcome, kind: task.kind, attempt: task.attempt },
    at: now,
  });
  // The call happened (or was settled): a manager no longer needs to chase it.
  await tasks.closeTasksFrom(db, task.id, now, `settled: ${outcome} recorded on the call`);

  if (task.kind === 'escalation' && task.sourceTaskId) {
    const source = await tasks.findTask(db, task.sourceTaskId);
    if (source?.status === 'open') await applyOutcome(ctx, db, source, outcome, notes, actor);
    return true;
  }

  const effect = outcomeEffect(outcome, task.attempt);
  if (task.touch && task.kind === 'call') {
    if (effect.touch)
      await lifecycle.closeCallTouch(db, task.touch.id, effect.touch.status, effect.touch.reason, now, actor);
    if (effect.retryAttempt) await openRetry(ctx, db, task, effect.retryAttempt, actor);
  }
  if (effect.flagPhone) {
    await updateCustomer(db, task.customer.id, { needsCleanup: true });
    await audit(db, {
      actor,
      action: 'customer.flagged',
      entity: 'customer',
      entityId: task.customer.id,
      detail: { reason: 'wrong_number', phone: true },
      at: now,
    });
  }
  if (effect.complaint) {
    const body = notes?.trim() || `Complaint recorded on a call${task.purpose ? ` (${task.purpose})` : ''}`;
    if (task.kind === 'complaint') {
      // A complaint noted while handling a complaint stays with the manager who has it; no task for their manager.
      await updateCustomer(db, task.customer.id, { paused: true });
      await tasks.insertNote(db, {
        customerId: task.customer.id,
        staffId: task.assignee?.id ?? null,
        body,
        complaint: true,
        at: now,
      });
    } else {
      await openComplaint(ctx, db, {
        customerId: task.customer.id,
        aboutStaffId: task.assignee?.id ?? null,
        noteStaffId: task.assignee?.id ?? null,
        body,
        sourceTaskId: task.id,
        actor,
      });
    }
  }
  return true;
}

/** openRetry opens the next attempt of an unanswered call two of the assignee's business days later. */
async function openRetry(
  ctx: ServiceContext,
  db: Database,
  task: tasks.TaskView,
  attempt: number,
  actor: string,
): Promise<void> {
  const now = ctx.clock.now();
  const { people, fallbacks } = await tasks.loadPeople(db, [task.assignee?.id ?? null]);
  // Whoever had the call keeps it; if they have left since, it goes where a new call would.
  const choice = chooseAssignee({
    stepRole: 'salesperson',
    preferredId: task.assignee?.id ?? null,
    salespersonId: null,
    people,
    fallbacks,
  });
  const assignee = choice.assigneeId ? people.get(choice.assigneeId) : null;
  const dueAt = retryDueAt(now, calendarOf(ctx, assignee));
  const touchId = task.touch!.id;
  await tasks.insertCallTasks(db, [
    {
      touchId,
      customerId: task.customer.id,
      assigneeId: choice.assigneeId,
      kind: 'call',
      dueAt,
      attempt,
      purpose: task.purpose,
      talkingPoints: task.talkingPoints,
      createdAt: now,
    },
  ]);
  await lifecycle.noteCallRetried(db, touchId, now, `no_answer: attempt ${attempt} due ${dueAt.toISOString()}`, actor);
}

/**
 * recordOutcome records a call outcome on a task the caller may see (visibility.service; any other is not_found).
 * Recording the same outcome again answers with the task as it is; a different outcome on a closed task is a conflict.
 */
export async function recordOutcome(
  ctx: ServiceContext,
  caller: Caller,
  id: string,
  input: { outcome: CallOutcome; notes?: string | null },
): Promise<TaskWithHistory> {
  const notes = input.notes?.trim() || null;
  const scope = await scopeOf(ctx, caller);
  await ctx.db.transaction().execute(async (trx) => {
    // Locking the task row makes two concurrent outcomes on one task run one after the other.
    const task = (await tasks.lockTask(trx, id)) ? await tasks.findTask(trx, id) : null;
    if (!task || !seesTask(scope, task)) throw new NotFoundError('task', id);
    if (task.status !== 'open') {
      if (task.outcome === input.outcome) return;
      throw new ConflictError(
        `outcome: task is already ${task.status}${task.outcome ? ` with outcome ${task.outcome}` : ''}`,
        { field: 'outcome', id },
      );
    }
    await applyOutcome(ctx, trx, task, input.outcome, notes, caller.actor);
  });
  return getTask(ctx, { ...caller, role: 'admin' }, id);
}

/** NoteResult is a stored note and, for a complaint, the manager's task. */
export interface NoteResult {
  id: string;
  customerId: string;
  complaint: boolean;
  taskId: string | null;
}

/**
 * addNote stores a staff note on a customer the caller may see (else not_found); a complaint pauses the customer's
 * plan and opens a task for the manager.
 */
export async function addNote(
  ctx: ServiceContext,
  caller: Caller,
  customerId: string,
  input: { body: string; complaint?: boolean },
): Promise<NoteResult> {
  const customer = await findCustomer(ctx.db, customerId);
  if (!customer) throw new NotFoundError('customer', customerId);
  await requireCustomer(ctx, caller, customerId);
  // Erasure keeps anonymous counts only: a note would hold something about the person again.
  if (customer.erasedAt)
    throw new ConflictError('customer: this customer asked for erasure; no note is kept', {
      field: 'customer',
      reason: 'erased',
    });
  const body = input.body.trim();
  return ctx.db.transaction().execute(async (trx) => {
    const now = ctx.clock.now();
    if (input.complaint) {
      const { noteId, taskId } = await openComplaint(ctx, trx, {
        customerId,
        aboutStaffId: caller.staffId,
        noteStaffId: caller.staffId,
        body,
        sourceTaskId: null,
        actor: caller.actor,
      });
      await audit(trx, {
        actor: caller.actor,
        action: 'note.added',
        entity: 'customer',
        entityId: customerId,
        detail: { noteId, complaint: true },
        at: now,
      });
      return { id: noteId, customerId, complaint: true, taskId };
    }
    const noteId = await tasks.insertNote(trx, {
      customerId,
      staffId: caller.staffId,
      body,
      complaint: false,
      at: now,
    });
    await audit(trx, {
      actor: caller.actor,
      action: 'note.added',
      entity: 'customer',
      entityId: customerId,
      detail: { noteId, complaint: false },
      at: now,
    });
    return { id: noteId, customerId, complaint: false, taskId: null };
  });
}

/** resumeCustomer unpauses a customer's plan: touches that fell due meanwhile go out with the next scheduler run. */
export async function resumeCustomer(
  ctx: ServiceContext,
  actor: string,
  customerId: string,
): Promise<{ id: string; paused: boolean }> {
  const customer = await findCustomer(ctx.db, customerId);
  if (!customer) throw new NotFoundError('customer', customerId);
  if (!customer.paused) return { id: customerId, paused: false };
  await ctx.db.transaction().execute(async (trx) => {
    await updateCustomer(trx, customerId, { paused: false });
    await audit(trx, {
      actor,
      action: 'customer.resumed',
      entity: 'customer',
      entityId: customerId,
      at: ctx.clock.now(),
    });
  });
  return { id: customerId, paused: false };
}

/**
 * rescheduleTask moves an open task the caller may see to a preset (next business day, in 3 business days, next
 * week) or a date, at the start of the assignee's working day in their zone; returns the new due time.
 */
export async function rescheduleTask(
  ctx: ServiceContext,
  caller: Caller,
  id: string,
  input: { preset: ReschedulePreset; date?: string },
): Promise<Date> {
  const task = await tasks.findTask(ctx.db, id);
  if (!task || !seesTask(await scopeOf(ctx, caller), task)) throw new NotFoundError('task', id);
  if (task.status !== 'open') throw new ConflictError(`task: already ${task.status}`, { field: 'task', id });
  const now = ctx.clock.now();
  const cal = calendarOf(ctx, task.assignee ? await tasks.findStaffCalendar(ctx.db, task.assignee.id) : null);
  const dueAt = rescheduleDueAt(input.preset, now, cal, input.date);
  if (!dueAt) throw new ValidationError('date', 'must be a date (YYYY-MM-DD) from today to a year ahead');
  await ctx.db.transaction().execute(async (trx) => {
    if (!(await tasks.moveTask(trx, id, dueAt))) throw new ConflictError('task: no longer open', { field: 'task', id });
    await audit(trx, {
      actor: caller.actor,
      action: 'task.rescheduled',
      entity: 'task',
      entityId: id,
      detail: { from: task.dueAt.toISOString(), to: dueAt.toISOString(), preset: input.preset },
      at: now,
    });
  });
  return dueAt;
}
