/**
 * A staff member's work queue, as the console shows it: today's open tasks (overdue first, with how many business
 * days), the next 14 days, and a task's place in the queue (what comes before and after it).
 */
import { DateTime } from 'luxon';
import * as tasks from '../db/repositories/task.repository';
import { MAX_CALL_ATTEMPTS } from '../domain/call-task';
import { businessDaysBetween } from '../domain/schedule';
import { calendarOf, getTask, type Caller, type TaskWithHistory } from './task.service';
import { customerStory, type CustomerStory } from './customer-story.service';
import type { ServiceContext } from './context';

/** UPCOMING_DAYS is how far ahead the Upcoming tab looks. */
export const UPCOMING_DAYS = 14;

/** QueueItem is one task on someone's list, with what its row shows. */
export interface QueueItem {
  id: string;
  kind: tasks.TaskKind;
  purpose: string | null;
  attempt: number;
  maxAttempts: number;
  dueAt: Date;
  /** Business days (of the assignee) since it fell due; 0 when it is due today or later. */
  overdueDays: number;
  customer: { id: string; name: string; firstName: string; phone: string | null; zone: string; now: Date };
}

/** Queue is someone's open work: overdue, then due today; `zone` is the assignee's. */
export interface Queue {
  zone: string;
  overdue: QueueItem[];
  today: QueueItem[];
}

function customerName(c: { firstName: string | null; lastName: string | null }): string {
  return [c.firstName, c.lastName].filter(Boolean).join(' ') || 'Unnamed customer';
}

function toItem(ctx: ServiceContext, t: tasks.TaskView, cal: { zone: string; days: number[] }, now: Date): QueueItem {
  const startOfToday = DateTime.fromJSDate(now, { zone: cal.zone }).startOf('day').toJSDate();
  return {
    id: t.id,
    kind: t.kind,
    purpose: t.purpose,
    attempt: t.attempt,
    maxAttempts: t.kind === 'call' ? MAX_CALL_ATTEMPTS : 1,
    dueAt: t.dueAt,
    overdueDays: t.dueAt < startOfToday ? Math.max(1, businessDaysBetween(t.dueAt, now, cal.zone, cal.days)) : 0,
    customer: {
      id: t.customer.id,
      name: customerName(t.customer),
      firstName: t.customer.firstName || customerName(t.customer),
      phone: t.customer.phone,
      zone: t.customer.timezone ?? ctx.settings.defaultTimezone,
      now,
    },
  };
}

/** QUEUE_LIMIT bounds one person's list; nobody works through more in a day. */
const QUEUE_LIMIT = 500;

/** todayQueue returns a person's open tasks due by the end of their today, overdue first, each oldest first. */
export async function todayQueue(ctx: ServiceContext, staffId: string): Promise<Queue> {
  const now = ctx.clock.now();
  const cal = calendarOf(ctx, await tasks.findStaffCalendar(ctx.db, staffId));
  const endOfToday = DateTime.fromJSDate(now, { zone: cal.zone }).startOf('day').plus({ days: 1 }).toJSDate();
  const list = await tasks.listTasks(ctx.db, {
    assigneeId: staffId,
    status: 'open',
    dueTo: endOfToday,
    limit: QUEUE_LIMIT,
  });
  const items = list.map((t) => toItem(ctx, t, cal, now));
  return {
    zone: cal.zone,
    overdue: items.filter((i) => i.overdueDays > 0),
    today: items.filter((i) => i.overdueDays === 0),
  };
}

/** upcomingQueue returns a person's open tasks due after today, within UPCOMING_DAYS, earliest first. */
export async function upcomingQueue(
  ctx: ServiceContext,
  staffId: string,
): Promise<{ zone: string; items: QueueItem[] }> {
  const now = ctx.clock.now();
  const cal = calendarOf(ctx, await tasks.findStaffCalendar(ctx.db, staffId));
  const tomorrow = DateTime.fromJSDate(now, { zone: cal.zone }).startOf('day').plus({ days: 1 });
  const list = await tasks.listTasks(ctx.db, {
    assigneeId: staffId,
    status: 'open',
    dueFrom: tomorrow.toJSDate(),
    dueTo: tomorrow.plus({ days: UPCOMING_DAYS }).toJSDate(),
    limit: QUEUE_LIMIT,
  });
  return { zone: cal.zone, items: list.map((t) => toItem(ctx, t, cal, now)) };
}

/** QueuePlace is where a task sits in today's queue: the tasks before and after it (null at either end). */
export interface QueuePlace {
  position: number | null;
  total: number;
  previousId: string | null;
  nextId: string | null;
}

/**
 * queuePlace finds a task in its assignee's queue for today. A task not (or no longer) in it, such as one just
 * settled, is placed where it was: `nextId` is then the first open task after it by due time.
 */
export async function queuePlace(
  ctx: ServiceContext,
  staffId: string,
  taskId: string,
  dueAt: Date,
): Promise<QueuePlace> {
  const q = await todayQueue(ctx, staffId);
  const all = [...q.overdue, ...q.today];
  const i = all.findIndex((t) => t.id === taskId);
  if (i >= 0) {
    return {
      position: i + 1,
      total: all.length,
      previousId: all[i - 1]?.id ?? null,
      nextId: all[i + 1]?.id ?? null,
    };
  }
  const after = all.find((t) => t.dueAt > dueAt || (t.dueAt.getTime() === dueAt.getTime() && t.id > taskId));
  const before = [...all].reverse().find((t) => t.dueAt < dueAt);
  return { position: null, total: all.length, previousId: before?.id ?? null, nextId: after?.id ?? all[0]?.id ?? null };
}

/** TaskScreen is everything the task page shows: the task, its customer's story and its place in the queue. */
export interface TaskScreen {
  task: TaskWithHistory;
  story: CustomerStory;
  place: QueuePlace;
  /** The zone of the person whose queue this is (the assignee's), for due times. */
  zone: string;
  maxAttempts: number;
  overdueDays: number;
}

/** taskScreen loads a task the viewer may see (else not_found) with its story, placed in the viewer's queue. */
export async function taskScreen(ctx: ServiceContext, caller: Caller, taskId: string): Promise<TaskScreen> {
  const task = await getTask(ctx, caller, taskId);
  const now = ctx.clock.now();
  const cal = calendarOf(ctx, caller.staffId ? await tasks.findStaffCalendar(ctx.db, caller.staffId) : null);
  const [story, place] = await Promise.all([
    customerStory(ctx, caller, task.customer.id),
    caller.staffId
      ? queuePlace(ctx, caller.staffId, task.id, task.dueAt)
      : Promise.resolve({ position: null, total: 0, previousId: null, nextId: null }),
  ]);
  return {
    task,
    story,
    place,
    zone: cal.zone,
    maxAttempts: task.kind === 'call' ? MAX_CALL_ATTEMPTS : 1,
    overdueDays: toItem(ctx, task, cal, now).overdueDays,
  };
}
