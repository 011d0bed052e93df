/**
 * The life of one planned contact (a touch): the statuses it may start in and the moves between them. This table is
 * the rule; db/repositories/touch-lifecycle.repository is the only code that changes a touch's status, and it asks
 * this module which moves are legal. No I/O here.
 */
import type { TouchStatus } from './types';

/** PLANNED_STATUSES are what a touch may be stored as: due later, or already past (missed) or impossible (skipped). */
export const PLANNED_STATUSES: readonly TouchStatus[] = ['scheduled', 'missed', 'skipped'];

/**
 * TOUCH_TRANSITIONS lists, for each status, the statuses a touch may move to. A move to the same status is a change
 * worth its own event (re-timed, rerouted, filed into a print batch, a call tried again), not a no-op.
 */
export const TOUCH_TRANSITIONS: Readonly<Record<TouchStatus, readonly TouchStatus[]>> = {
  // Claimed for its queue; re-timed by a re-plan or rerouted to another channel; cancelled (opt-out, plan ended).
  scheduled: ['queued', 'scheduled', 'cancelled'],
  // Delivered (a call touch is `sent` while its task is out), finished without a message, or put back for later
  // (its customer is paused, the business's sends are on hold); filed into a print batch stays `queued`.
  queued: ['queued', 'scheduled', 'sent', 'done', 'failed', 'skipped', 'cancelled'],
  // Only a call touch goes on from `sent`: its task's outcome, a retry (a new task), or the customer opting out.
  sent: ['sent', 'done', 'failed', 'cancelled'],
  // A written step skipped for want of an address goes back to the plan when an address arrives before its time.
  skipped: ['scheduled'],
  done: [],
  missed: [],
  failed: [],
  cancelled: [],
};

/** canMove says whether a touch in `from` may move to `to`. */
export function canMove(from: TouchStatus, to: TouchStatus): boolean {
  return TOUCH_TRANSITIONS[from].includes(to);
}

/** sourcesOf returns the statuses a touch may move to `to` from. */
export function sourcesOf(to: TouchStatus): TouchStatus[] {
  return (Object.keys(TOUCH_TRANSITIONS) as TouchStatus[]).filter((from) => canMove(from, to));
}

/** isOpen says whether a touch in this status is still to be delivered (its contact not yet made or given up). */
export function isOpen(status: TouchStatus): boolean {
  return status === 'scheduled' || status === 'queued';
}

/**
 * assertMove throws when a touch may not move from any of `from` to `to`: a caller asking for an illegal move is a
 * programming error, caught before anything is written.
 */
export function assertMove(from: readonly TouchStatus[], to: TouchStatus): void {
  const illegal = from.filter((f) => !canMove(f, to));
  if (illegal.length > 0) throw new Error(`a touch may not move from ${illegal.join(', ')} to ${to}`);
}

/** assertPlanned throws when a new touch would start in a status a plan cannot give it. */
export function assertPlanned(status: TouchStatus): void {
  if (!PLANNED_STATUSES.includes(status)) throw new Error(`a touch may not start as ${status}`);
}
