/**
 * The periodic duties around call tasks: reminder emails and the morning digest to the people who owe calls,
 * escalating calls left overdue, and handing the open tasks of someone who left to their manager.
 */
import { getBusinessIdentity } from './business-identity.service';
import { DateTime } from 'luxon';
import * as tasks from '../db/repositories/task.repository';
import { audit } from '../db/repositories/access.repository';
import type { EmailChannel } from '../channels/email.channel';
import { escapeHtml } from '../channels/templates';
import {
  ESCALATE_AFTER_BUSINESS_DAYS,
  REMINDER_INTERVAL_MS,
  chooseAssignee,
  chooseManager,
  localDate,
  shouldEscalate,
} from '../domain/call-task';
import { isWithinWorkingHours } from '../domain/schedule';
import { calendarOf } from './task.service';
import type { ServiceContext } from './context';

/** SWEEP_LIMIT bounds the tasks one sweep looks at, so a run stays short; the next run takes the rest. */
const SWEEP_LIMIT = 5000;

/** ReminderRun counts what a reminder run did. */
export interface ReminderRun {
  reminders: number;
  digests: number;
  failed: number;
  /** Open tasks cancelled because their customer may no longer be contacted. */
  cancelled: number;
  reassigned: number;
}

/** todayLink is the console's Today page, where the person's calls are (never an API URL). */
function todayLink(ctx: ServiceContext): string {
  return `${ctx.settings.publicUrl}/console/today`;
}

function taskLine(ctx: ServiceContext, t: tasks.ReminderTask, zone: string): { text: string; html: string } {
  // Every time shows its zone.
  const when = `${DateTime.fromJSDate(t.dueAt, { zone }).toFormat('ccc d LLL HH:mm')} (${zone})`;
  const what = t.kind === 'call' ? (t.purpose ?? 'Call') : `${t.kind}: ${t.purpose ?? ''}`.trim();
  const phone = t.phone ? ` (${t.phone})` : '';
  const link = `${ctx.settings.publicUrl}/console/tasks/${t.id}`;
  return {
    text: `- ${t.customerName}${phone}, due ${when}: ${what}\n  ${link}`,
    html: `<li><strong>${escapeHtml(t.customerName)}</strong>${escapeHtml(phone)}, due ${escapeHtml(when)}: ${escapeHtml(what)} <a href="${escapeHtml(link)}">open</a></li>`,
  };
}

function section(
  ctx: ServiceContext,
  title: string,
  list: tasks.ReminderTask[],
  zone: string,
): { text: string; html: string } | null {
  if (list.length === 0) return null;
  const lines = list.map((t) => taskLine(ctx, t, zone));
  return {
    text: `${title}\n${lines.map((l) => l.text).join('\n')}`,
    html: `<h3 style="font-size:15px;margin:1em 0 .5em 0;">${escapeHtml(title)}</h3><ul>${lines.map((l) => l.html).join('')}</ul>`,
  };
}

/** composeReminder writes the reminder or digest email for one person. */
function composeReminder(
  ctx: ServiceContext,
  businessName: string,
  person: tasks.ReminderCandidate,
  kind: 'digest' | 'reminder',
  parts: { now: tasks.ReminderTask[]; overdue: tasks.ReminderTask[]; today: tasks.ReminderTask[] },
  zone: string,
): { subject: string; text: string; html: string } {
  const n = kind === 'digest' ? parts.overdue.length + parts.today.length : parts.now.length;
  const calls = `${n} ${n === 1 ? 'task' : 'tasks'}`;
  const subject =
    kind === 'digest'
      ? `Your calls today: ${calls}${parts.overdue.length ? `, ${parts.overdue.length} overdue` : ''}`
      : `Reminder: ${calls} now due`;
  const sections = (
    kind === 'digest'
      ? [section(ctx, 'Overdue', parts.overdue, zone), section(ctx, 'Due today', parts.today, zone)]
      : [section(ctx, 'Now due', parts.now, zone)]
  ).filter((s): s is { text: string; html: string } => s !== null);
  const link = todayLink(ctx);
  const greeting = `Hello ${person.name},`;
  const intro = kind === 'digest' ? 'Here are the calls on your list today.' : 'These calls have just fallen due.';
  const text =
    [greeting, intro, ...sections.map((s) => s.text), `Open today's calls: ${link}`, businessName].join('\n\n') + '\n';
  const html = [
    '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="font-family:Helvetica,Arial,sans-serif;font-size:15px;color:#222;">',
    `<p>${escapeHtml(greeting)}</p><p>${escapeHtml(intro)}</p>`,
    ...sections.map((s) => s.html),
    `<p><a href="${escapeHtml(link)}">Open today's calls</a></p><p>${escapeHtml(businessName)}</p>`,
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

function messageHost(ctx: ServiceContext): string {
  try {
    return new URL(ctx.settings.publicUrl).hostname || 'rapport.local';
  } catch {
    return 'rapport.local';
  }
}

/**
 * sendReminders emails each person who owes calls, inside their working hours: the first email of a working day is
 * the digest of what is due and overdue; after it, a reminder when tasks fall due, at most one email an hour. The
 * slot is claimed in Postgres before sending, so any number of workers send one email; a failed send gives it back.
 */
export async function sendReminders(ctx: ServiceContext, email: EmailChannel): Promise<ReminderRun> {
  const now = ctx.clock.now();
  // "Do not contact" covers calls already on someone's list: those tasks go before anyone is reminded of them.
  const cancelled = await tasks.cancelTasksOfUncontactable(ctx.db, now);
  const run: ReminderRun = {
    reminders: 0,
    digests: 0,
    failed: 0,
    cancelled: cancelled.length,
    reassigned: await reassignTasksOfInactiveStaff(ctx),
  };
  // A day ahead covers the end of "today" in every zone; each person's own today is cut below.
  const people = await tasks.listReminderCandidates(ctx.db, new Date(now.getTime() + 36 * 3600_000), SWEEP_LIMIT);
  for (const person of people) {
    const cal = calendarOf(ctx, person);
    if (!isWithinWorkingHours(now, cal.zone, cal.days, cal.start, cal.end)) continue;
    const today = localDate(now, cal.zone);
    const startOfToday = DateTime.fromJSDate(now, { zone: cal.zone }).startOf('day').toJSDate();
    const endOfToday = DateTime.fromJSDate(now, { zone: cal.zone }).endOf('day').toJSDate();
    const dueNow = person.tasks.filter((t) => t.dueAt <= now);
    const fresh = dueNow.filter((t) => t.remindedAt === null);
    const byEndOfDay = person.tasks.filter((t) => t.dueAt <= endOfToday);
    const digest = person.lastDigestOn !== today && byEndOfDay.length > 0;
    if (!digest && fresh.length === 0) continue;
    if (person.lastReminderAt && now.getTime() - person.lastReminderAt.getTime() < REMINDER_INTERVAL_MS) continue;

    const slot = await tasks.claimReminderSlot(
      ctx.db,
      person.id,
      now,
      new Date(now.getTime() - REMINDER_INTERVAL_MS),
      digest ? today : null,
    );
    if (!slot) continue;
    const parts = {
      now: fresh,
      overdue: byEndOfDay.filter((t) => t.dueAt < startOfToday),
      today: byEndOfDay.filter((t) => t.dueAt >= startOfToday),
    };
    const kind = digest ? 'digest' : 'reminder';
    const identity = await getBusinessIdentity(ctx);
    const content = composeReminder(ctx, identity.name ?? '', person, kind, parts, cal.zone);
    const result = await email.send({
      from: identity.emailFrom,
      to: person.email,
      ...content,
      messageId: `<${kind}.${person.id}.${now.getTime()}@${messageHost(ctx)}>`,
    });
    if (!result.ok) {
      await tasks.releaseReminderSlot(ctx.db, person.id, now, slot);
      run.failed++;
      ctx.log.warn({ staffId: person.id, kind, reason: result.reason }, 'reminder email not sent; will try again');
      continue;
    }
    // Whatever was due when the email went out has been announced, digest or reminder.
    await tasks.markReminded(
      ctx.db,
      dueNow.map((t) => t.id),
      now,
    );
    if (digest) run.digests++;
    else run.reminders++;
  }
  return run;
}

/**
 * reassignTasksOfInactiveStaff hands the open tasks of people marked inactive, or not yet confirmed by a manager (or
 * of one such person, `staffId`), to their manager (else the default assignee), so a call owed by someone who left,
 * or whom nobody may email yet, is still made; returns how many moved. One call moves at most SWEEP_LIMIT tasks.
 */
export async function reassignTasksOfInactiveStaff(
  ctx: ServiceContext,
  staffId?: string,
  actor = 'worker',
): Promise<number> {
  const orphans = await tasks.listTasksOfInactiveStaff(ctx.db, SWEEP_LIMIT, staffId);
  if (orphans.length === 0) return 0;
  const { people, fallbacks } = await tasks.loadPeople(
    ctx.db,
    orphans.map((o) => o.assigneeId),
  );
  // A pending person is active on paper (they sign their letters) but takes no calls until confirmed.
  for (const o of orphans) {
    const person = people.get(o.assigneeId);
    if (person) people.set(o.assigneeId, { ...person, active: false });
  }
  let moved = 0;
  const now = ctx.clock.now();
  for (const o of orphans) {
    const choice = chooseAssignee({
      stepRole: 'salesperson',
      preferredId: o.assigneeId,
      salespersonId: null,
      people,
      fallbacks,
    });
    if (!choice.assigneeId || choice.assigneeId === o.assigneeId) continue;
    if (await tasks.reassignTask(ctx.db, o.id, o.assigneeId, choice.assigneeId)) {
      moved++;
      await audit(ctx.db, {
        actor,
        action: 'task.reassigned',
        entity: 'task',
        entityId: o.id,
        detail: { from: o.assigneeId, to: choice.assigneeId, rule: choice.rule },
        at: now,
      });
    }
  }
  return moved;
}

/**
 * escalateOverdueTasks opens, once per task, an escalation task for the manager of whoever has let a call go
 * overdue by three of their business days; returns how many escalated.
 */
export async function escalateOverdueTasks(ctx: ServiceContext): Promise<number> {
  const now = ctx.clock.now();
  // Three business days are at least three calendar days, so older tasks are the only candidates.
  const candidates = await tasks.listEscalationCandidates(
    ctx.db,
    new Date(now.getTime() - ESCALATE_AFTER_BUSINESS_DAYS * 86_400_000),
    SWEEP_LIMIT,
  );
  const due = candidates.filter((c) =>
    shouldEscalate(c.dueAt, now, {
      zone: c.timezone ?? ctx.settings.defaultTimezone,
      days: c.workingDays?.length ? c.workingDays : [1, 2, 3, 4, 5],
    }),
  );
  if (due.length === 0) return 0;
  const { people, fallbacks } = await tasks.loadPeople(
    ctx.db,
    due.map((c) => c.assigneeId),
  );
  let escalated = 0;
  for (const c of due) {
    const managerId = chooseManager(c.assigneeId, people, fallbacks);
    const done = await ctx.db.transaction().execute(async (trx) => {
      if (!(await tasks.markEscalated(trx, c.id, managerId, now))) return false;
      // With nobody above the assignee the task is still stamped, so it is not looked at again every run.
      if (!managerId) return true;
      const assignee = c.assigneeId ? people.get(c.assigneeId) : null;
      const taskId = await tasks.insertTask(trx, {
        customerId: c.customerId,
        assigneeId: managerId,
        kind: 'escalation',
        sourceTaskId: c.id,
        dueAt: now,
        purpose: `Overdue call${assignee ? ` of ${assignee.name}` : ''}: ${c.purpose ?? 'call the customer'}`,
        createdAt: now,
      });
      await audit(trx, {
        actor: 'worker',
        action: 'task.escalated',
        entity: 'task',
        entityId: c.id,
        detail: { to: managerId, escalationTaskId: taskId },
        at: now,
      });
      return true;
    });
    if (done) escalated++;
  }
  if (escalated > 0) ctx.log.info({ count: escalated }, 'escalated overdue calls');
  return escalated;
}
