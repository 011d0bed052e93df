/**
 * Re-planning a running first-year plan onto another plan version: which of the customer's contacts would be added,
 * removed, re-timed or moved to another channel. Pure; the timing is computePlan's, never a copy of it.
 *
 * Only a step whose timing or channel definition changed (offset, mail or call, the send window for mail, the caller's
 * calendar for a call) is computed again, with computePlan as of `now`; it changes when that differs from the stored
 * contact. So a contact a person moved by hand (a rescheduled call) keeps its time when its step did not change, and
 * a wording change moves nothing. Contacts already made, or on their way (anything not `scheduled`), stay as they are.
 */
import { canonicalJson } from './canonical-json';
import { computePlan, type CallerCalendar, type PlanInput } from './plan';
import type { Channel, PlanStep, PlannedTouch, SendWindow, TouchStatus } from './types';

/** ReplanChangeKind is what happens to one step of a customer's plan. */
export type ReplanChangeKind = 'added' | 'removed' | 'retimed' | 'channel';

/** REPLAN_CHANGE_KINDS lists every kind, in the order counts are shown. */
export const REPLAN_CHANGE_KINDS: readonly ReplanChangeKind[] = ['added', 'removed', 'retimed', 'channel'];

/** ReplanChange is one step that would change: its touch (null when added) and its channel and due time before and after. */
export interface ReplanChange {
  step: number;
  kind: ReplanChangeKind;
  touchId: string | null;
  fromChannel: Channel | null;
  toChannel: Channel | null;
  fromDueAt: Date | null;
  toDueAt: Date | null;
}

/** ExistingTouch is a stored contact of the run being re-planned. */
export interface ExistingTouch {
  id: string;
  step: number;
  channel: Channel;
  dueAt: Date;
  status: TouchStatus;
}

/** VersionInput is one side of a re-plan: the steps, the send window and who makes each call step. */
export interface VersionInput {
  steps: PlanStep[];
  sendWindow: SendWindow;
  callerCalendars?: Map<number, CallerCalendar>;
}

/** ReplanInput is a running plan's stored contacts, the version it runs and the one it would move to. */
export interface ReplanInput {
  touches: ExistingTouch[];
  from: VersionInput;
  to: VersionInput;
  /** The sale, `now`, the customer's zone and contact points, the default caller's calendar and the grace period. */
  base: Omit<PlanInput, 'steps' | 'sendWindow' | 'callerCalendars'>;
}

const timingKeys = new WeakMap<object, string>();

function cachedKey(o: object, make: () => string): string {
  let key = timingKeys.get(o);
  if (key === undefined) timingKeys.set(o, (key = make()));
  return key;
}

/** stepKey is what a step's timing and channel depend on (wording changes move nothing); memoised per plan object. */
function stepKey(step: PlanStep | undefined, v: VersionInput): string {
  if (!step) return '';
  const own = cachedKey(step, () =>
    canonicalJson({ offset: step.offset, channel: step.channel, trigger: step.trigger }),
  );
  if (step.channel !== 'call') return `${own}|${cachedKey(v.sendWindow, () => canonicalJson(v.sendWindow))}`;
  const cal = v.callerCalendars?.get(step.step);
  return `${own}|${cal ? `${cal.days.join(',')}@${cal.start ?? ''}` : ''}`;
}

const isCall = (c: Channel) => c === 'call';

const stepMaps = new WeakMap<PlanStep[], Map<number, PlanStep>>();

/** timedSteps maps a version's steps timed from the sale by step number; memoised per plan object (one per version). */
function timedSteps(steps: PlanStep[]): Map<number, PlanStep> {
  let map = stepMaps.get(steps);
  if (!map) stepMaps.set(steps, (map = new Map(steps.filter((s) => !s.trigger).map((s) => [s.step, s]))));
  return map;
}

const unions = new WeakMap<Map<number, PlanStep>, WeakMap<Map<number, PlanStep>, number[]>>();

/** stepUnion is the step numbers of either version, in order; memoised per pair of versions. */
function stepUnion(before: Map<number, PlanStep>, after: Map<number, PlanStep>): number[] {
  let byAfter = unions.get(before);
  if (!byAfter) unions.set(before, (byAfter = new WeakMap()));
  let steps = byAfter.get(after);
  if (!steps) byAfter.set(after, (steps = [...new Set([...before.keys(), ...after.keys()])].sort((a, b) => a - b)));
  return steps;
}

/** replanChanges lists the changes moving one running plan from `from` to `to` would make, in step order. */
export function replanChanges(input: ReplanInput): ReplanChange[] {
  const touches = new Map(input.touches.map((t) => [t.step, t]));
  const before = timedSteps(input.from.steps);
  const after = timedSteps(input.to.steps);
  let steps = stepUnion(before, after);
  // A contact of a step neither version has (rare): listed with the others, in order.
  if ([...touches.keys()].some((n) => !before.has(n) && !after.has(n)))
    steps = [...new Set([...steps, ...touches.keys()])].sort((a, b) => a - b);
  // First the steps whose outcome may change, computed together in one call (the cost of a re-plan is this call).
  const recompute: PlanStep[] = [];
  for (const n of steps) {
    const touch = touches.get(n);
    const next = after.get(n);
    if (!next) continue;
    if (!touch || (touch.status === 'scheduled' && stepKey(before.get(n), input.from) !== stepKey(next, input.to)))
      recompute.push(next);
  }
  const planned =
    recompute.length === 0
      ? new Map<number, PlannedTouch>()
      : new Map(
          computePlan({
            ...input.base,
            steps: recompute,
            sendWindow: input.to.sendWindow,
            callerCalendars: input.to.callerCalendars,
          }).map((p) => [p.step, p]),
        );
  const changes: ReplanChange[] = [];
  for (const n of steps) {
    const touch = touches.get(n);
    const next = planned.get(n);
    if (!touch) {
      // A new step whose time has already gone is not added: it was never this customer's to miss.
      if (next?.status === 'scheduled')
        changes.push({
          step: n,
          kind: 'added',
          touchId: null,
          fromChannel: null,
          toChannel: next.channel,
          fromDueAt: null,
          toDueAt: next.dueAt,
        });
      continue;
    }
    if (touch.status !== 'scheduled') continue;
    const removed = {
      step: n,
      kind: 'removed' as const,
      touchId: touch.id,
      fromChannel: touch.channel,
      toChannel: null,
      fromDueAt: touch.dueAt,
      toDueAt: null,
    };
    if (!after.has(n)) {
      changes.push(removed);
      continue;
    }
    if (!next) continue;
    if (next.status !== 'scheduled') {
      // Moved into the past beyond the grace period, or no way left to reach the customer on the new channel.
      changes.push(removed);
    } else if (isCall(touch.channel) !== isCall(next.channel)) {
      changes.push({ ...removed, kind: 'channel', toChannel: next.channel, toDueAt: next.dueAt });
    } else if (touch.dueAt.getTime() !== next.dueAt.getTime()) {
      changes.push({ ...removed, kind: 'retimed', toChannel: touch.channel, toDueAt: next.dueAt });
    }
  }
  return changes;
}

/** countChanges counts changes by kind, every kind present. */
export function countChanges(changes: Iterable<ReplanChange>): Record<ReplanChangeKind, number> {
  const counts = { added: 0, removed: 0, retimed: 0, channel: 0 };
  for (const c of changes) counts[c.kind]++;
  return counts;
}
