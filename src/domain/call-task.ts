/**
 * The pure rules of call tasks: who makes a call, when a task is due, when a retry falls, when a task escalates,
 * and what each call outcome does to the plan. No I/O: the people and the instant come in as arguments.
 */
import { DateTime } from 'luxon';
import { yearInRange } from './input-limits';
import { addBusinessDays, businessDaysBetween, nextBusinessDay } from './schedule';
import type { StaffRole } from './types';

/** MAX_CALL_ATTEMPTS is how often a call is tried before the touch fails with `no_answer`. */
export const MAX_CALL_ATTEMPTS = 3;
/** RETRY_BUSINESS_DAYS is how many of the assignee's business days pass before a call is tried again. */
export const RETRY_BUSINESS_DAYS = 2;
/** ESCALATE_AFTER_BUSINESS_DAYS is how many business days overdue an open call task may be before it escalates. */
export const ESCALATE_AFTER_BUSINESS_DAYS = 3;
/** REMINDER_INTERVAL_MS is the least time between two reminder emails to one person. */
export const REMINDER_INTERVAL_MS = 3600_000;

/** Person is what choosing an assignee needs to know about a staff member. */
export interface Person {
  id: string;
  role: StaffRole;
  managerId: string | null;
  active: boolean;
}

/** Fallbacks are the first active executive, the first active manager and the first active anyone. */
export interface Fallbacks {
  executive: Person | null;
  manager: Person | null;
  anyone: Person | null;
}

/** AssignRule says why a person was chosen, for the timeline and the logs. */
export type AssignRule =
  'assigned' | 'executive' | 'manager_of_inactive' | 'default_manager' | 'default_staff' | 'unassigned';

/** Assignment is the chosen person (null when nobody is active) and the rule that chose them. */
export interface Assignment {
  assigneeId: string | null;
  rule: AssignRule;
}

// Manager chains are short; the bound only guards against a cycle someone typed into the data.
const MAX_CHAIN = 6;

/** activeUpChain returns the first active person from `id` up its manager chain, with how many steps up it was. */
export function activeUpChain(
  id: string | null,
  people: ReadonlyMap<string, Person>,
): { person: Person; hops: number } | null {
  let person = id ? people.get(id) : undefined;
  for (let hops = 0; person && hops < MAX_CHAIN; hops++) {
    if (person.active) return { person, hops };
    person = person.managerId ? people.get(person.managerId) : undefined;
  }
  return null;
}

/**
 * chooseAssignee names who makes a call. An executive step goes to the step's executive while active, else the
 * first active executive, else the salesperson. A salesperson who left is replaced by the first active manager up
 * their chain, else the default assignee: the first active manager, then anyone active.
 */
export function chooseAssignee(input: {
  stepRole: StaffRole;
  /** The person the touch names (the salesperson, or the executive chosen when the sale was planned). */
  preferredId: string | null;
  /** The sale's salesperson, used when an executive step finds no executive. */
  salespersonId: string | null;
  people: ReadonlyMap<string, Person>;
  fallbacks: Fallbacks;
}): Assignment {
  const { stepRole, people, fallbacks } = input;
  let preferredId = input.preferredId;
  if (stepRole === 'executive' || stepRole === 'manager') {
    const named = preferredId ? people.get(preferredId) : undefined;
    if (named?.active && named.role === stepRole) return { assigneeId: named.id, rule: 'assigned' };
    const first = stepRole === 'executive' ? fallbacks.executive : fallbacks.manager;
    if (first) return { assigneeId: first.id, rule: stepRole === 'executive' ? 'executive' : 'default_manager' };
    preferredId = input.salespersonId ?? preferredId;
  }
  const found = activeUpChain(preferredId, people);
  if (found) return { assigneeId: found.person.id, rule: found.hops === 0 ? 'assigned' : 'manager_of_inactive' };
  if (fallbacks.manager) return { assigneeId: fallbacks.manager.id, rule: 'default_manager' };
  if (fallbacks.anyone) return { assigneeId: fallbacks.anyone.id, rule: 'default_staff' };
  return { assigneeId: null, rule: 'unassigned' };
}

/**
 * chooseManager names who handles an escalation or complaint about `staffId`'s work: the first active manager up
 * their chain, else the first active manager, else anyone active; never the person themselves (null if nobody else).
 */
export function chooseManager(
  staffId: string | null,
  people: ReadonlyMap<string, Person>,
  fallbacks: Fallbacks,
): string | null {
  const self = staffId ? people.get(staffId) : undefined;
  const up = activeUpChain(self?.managerId ?? null, people);
  const candidates = [up?.person ?? null, fallbacks.manager, fallbacks.anyone];
  return candidates.find((p) => p && p.id !== staffId)?.id ?? null;
}

/** WorkCalendar is when a person works: their zone, ISO weekdays and hours. */
export interface WorkCalendar {
  zone: string;
  days: number[];
  start: string;
  end: string;
}

/** taskDueAt puts a call due at `at` on the assignee's business day: unchanged on a working day, else the next one's start. */
export function taskDueAt(at: Date, cal: WorkCalendar): Date {
  const weekday = DateTime.fromJSDate(at, { zone: cal.zone }).weekday;
  return cal.days.includes(weekday) ? at : nextBusinessDay(at, cal.zone, cal.days, cal.start);
}

/** retryDueAt is when a call with no answer is tried again: the start of work two business days after `now`. */
export function retryDueAt(now: Date, cal: WorkCalendar): Date {
  return addBusinessDays(now, cal.zone, cal.days, RETRY_BUSINESS_DAYS, cal.start);
}

/** shouldEscalate tells whether a task due at `dueAt` is overdue by ESCALATE_AFTER_BUSINESS_DAYS of its assignee at `now`. */
export function shouldEscalate(dueAt: Date, now: Date, cal: Pick<WorkCalendar, 'zone' | 'days'>): boolean {
  return now > dueAt && businessDaysBetween(dueAt, now, cal.zone, cal.days) >= ESCALATE_AFTER_BUSINESS_DAYS;
}

/** ReschedulePreset is how a task may be moved: to the next business day, 3 business days on, next week, or a date. */
export type ReschedulePreset = 'next_business_day' | 'in_3_business_days' | 'next_week' | 'date';

/** RESCHEDULE_PRESETS lists every preset, for schemas and forms. */
export const RESCHEDULE_PRESETS: readonly ReschedulePreset[] = [
  'next_business_day',
  'in_3_business_days',
  'next_week',
  'date',
];

/**
 * rescheduleDueAt is when a task moved by `preset` at `now` falls due: the start of work on the chosen business day in
 * the assignee's zone. `next_week` is the first business day of next week (from Monday); `date` is `date`
 * (YYYY-MM-DD), or its next business day, and must be from today to a year ahead; null when it is not.
 */
export function rescheduleDueAt(preset: ReschedulePreset, now: Date, cal: WorkCalendar, date?: string): Date | null {
  switch (preset) {
    case 'next_business_day':
      return addBusinessDays(now, cal.zone, cal.days, 1, cal.start);
    case 'in_3_business_days':
      return addBusinessDays(now, cal.zone, cal.days, 3, cal.start);
    case 'next_week': {
      const monday = DateTime.fromJSDate(now, { zone: cal.zone }).startOf('week').plus({ weeks: 1 });
      return nextBusinessDay(monday.toJSDate(), cal.zone, cal.days, cal.start);
    }
    case 'date': {
      if (!date || !/^\d{4}-\d{2}-\d{2}$/.test(date)) return null;
      const day = DateTime.fromISO(date, { zone: cal.zone });
      const today = DateTime.fromJSDate(now, { zone: cal.zone }).startOf('day');
      if (!day.isValid || day < today || day > today.plus({ years: 1 })) return null;
      const at = nextBusinessDay(day.toJSDate(), cal.zone, cal.days, cal.start);
      // Today's start of work may have passed: then the call is due now, not in the past.
      return at < now ? now : at;
    }
  }
}

/** CallOutcome is what a caller records. */
export type CallOutcome = 'reached' | 'voicemail' | 'no_answer' | 'wrong_number' | 'complaint';

/** CALL_OUTCOMES lists every outcome, for schemas. */
export const CALL_OUTCOMES: readonly CallOutcome[] = ['reached', 'voicemail', 'no_answer', 'wrong_number', 'complaint'];

/** OutcomeEffect is what recording an outcome does to the touch and the customer. */
export interface OutcomeEffect {
  /** The touch's new status, or null when it stays `sent` (another attempt follows). */
  touch: { status: 'done' | 'failed'; reason: CallOutcome } | null;
  /** Schedule attempt `retryAttempt` of the call. */
  retryAttempt: number | null;
  /** Flag the customer's phone for clean-up. */
  flagPhone: boolean;
  /** Pause the customer's plan and open a complaint task for the manager. */
  complaint: boolean;
}

/** outcomeEffect decides what `outcome` of attempt `attempt` does; at most MAX_CALL_ATTEMPTS tries end in `failed`. */
export function outcomeEffect(outcome: CallOutcome, attempt: number): OutcomeEffect {
  const none = { retryAttempt: null, flagPhone: false, complaint: false };
  switch (outcome) {
    case 'reached':
    case 'voicemail':
      return { ...none, touch: { status: 'done', reason: outcome } };
    case 'no_answer':
      return attempt < MAX_CALL_ATTEMPTS
        ? { ...none, touch: null, retryAttempt: attempt + 1 }
        : { ...none, touch: { status: 'failed', reason: 'no_answer' } };
    case 'wrong_number':
      return { ...none, touch: { status: 'failed', reason: 'wrong_number' }, flagPhone: true };
    case 'complaint':
      return { ...none, touch: { status: 'done', reason: 'complaint' }, complaint: true };
  }
}

/** DueFilter selects tasks by due date: by the end of today (overdue included), before today, or on one date. */
export type DueFilter = { kind: 'today' } | { kind: 'overdue' } | { kind: 'date'; date: string };

/** dueRange turns a DueFilter into an instant range [from, to) in `zone` at `now`; `from` null means unbounded. */
export function dueRange(filter: DueFilter, now: Date, zone: string): { from: Date | null; to: Date } {
  const today = DateTime.fromJSDate(now, { zone }).startOf('day');
  switch (filter.kind) {
    case 'today':
      return { from: null, to: today.plus({ days: 1 }).toJSDate() };
    case 'overdue':
      return { from: null, to: today.toJSDate() };
    case 'date': {
      const day = DateTime.fromISO(filter.date, { zone }).startOf('day');
      return { from: day.toJSDate(), to: day.plus({ days: 1 }).toJSDate() };
    }
  }
}

/** parseDueFilter reads `today`, `overdue` or an ISO date (YYYY-MM-DD); null when it is none of them. */
export function parseDueFilter(value: string): DueFilter | null {
  if (value === 'today' || value === 'overdue') return { kind: value };
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || !yearInRange(Number(value.slice(0, 4)))) return null;
  return DateTime.fromISO(value).isValid ? { kind: 'date', date: value } : null;
}

/** localDate is the calendar date of `at` in `zone`, as YYYY-MM-DD. */
export function localDate(at: Date, zone: string): string {
  return DateTime.fromJSDate(at, { zone }).toISODate() as string;
}
