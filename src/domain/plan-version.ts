/** What changed between two versions of a segment's plan, in words a manager reads. Pure. */
import { canonicalJson } from './canonical-json';
import type { PlanStep, SendWindow, StepOffset } from './types';

/** PlanDefinition is what a plan version holds: the steps and the send window. */
export interface PlanDefinition {
  plan: PlanStep[];
  sendWindow: SendWindow;
}

const DAY_NAMES = ['', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** describeOffset writes a step offset as "1 year 2 months" (units in order, zero units left out). */
export function describeOffset(o: StepOffset): string {
  const parts: string[] = [];
  for (const [unit, n] of [
    ['year', o.years],
    ['month', o.months],
    ['week', o.weeks],
    ['day', o.days],
  ] as const) {
    if (n) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
  }
  return parts.join(' ') || '0 days';
}

function describeWindow(w: SendWindow): string {
  return `${w.days.map((d) => DAY_NAMES[d]).join(', ')} ${w.start}-${w.end}`;
}

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

/**
 * describePlanChanges lists what changed from `before` to `after`: steps added or removed, and per kept step its
 * timing, channel, sender or caller, wording and talking points; and the send window. Empty when nothing changed.
 */
export function describePlanChanges(before: PlanDefinition, after: PlanDefinition): string[] {
  const changes: string[] = [];
  const old = new Map(before.plan.map((s) => [s.step, s]));
  const now = new Map(after.plan.map((s) => [s.step, s]));
  const steps = [...new Set([...old.keys(), ...now.keys()])].sort((a, b) => a - b);
  for (const n of steps) {
    const a = old.get(n);
    const b = now.get(n);
    if (!a && b) {
      changes.push(
        `step ${n} added: ${b.channel === 'call' ? 'call' : 'letter or email'} after ${describeOffset(b.offset)}`,
      );
      continue;
    }
    if (a && !b) {
      changes.push(`step ${n} removed`);
      continue;
    }
    if (!a || !b) continue;
    if (!same(a.offset, b.offset))
      changes.push(`step ${n} re-timed: ${describeOffset(a.offset)} -> ${describeOffset(b.offset)} after the sale`);
    if (a.channel !== b.channel) changes.push(`step ${n} channel: ${a.channel} -> ${b.channel}`);
    if ((a.sender ?? null) !== (b.sender ?? null))
      changes.push(`step ${n} signed by: ${a.sender ?? '-'} -> ${b.sender ?? '-'}`);
    if ((a.assignee ?? null) !== (b.assignee ?? null))
      changes.push(`step ${n} caller: ${a.assignee ?? '-'} -> ${b.assignee ?? '-'}`);
    if (a.purpose !== b.purpose) changes.push(`step ${n} purpose changed`);
    if (!same(a.template, b.template)) changes.push(`step ${n} wording changed`);
    if (!same(a.talkingPoints, b.talkingPoints)) changes.push(`step ${n} talking points changed`);
    if ((a.trigger ?? null) !== (b.trigger ?? null) || (a.preferLetter ?? false) !== (b.preferLetter ?? false))
      changes.push(`step ${n} trigger or letter preference changed`);
  }
  if (!same(before.sendWindow, after.sendWindow))
    changes.push(`send window: ${describeWindow(before.sendWindow)} -> ${describeWindow(after.sendWindow)}`);
  return changes;
}
