/** PLACEHOLDER: being written; replaced before this lands. */
import type { Deliver, HandlerDeps } from './handler-deps';

/** createCallDelivery turns a due call touch into a task. */
export function createCallDelivery(_deps: HandlerDeps): Deliver {
  return async () => ({ status: 'retry', reason: 'not implemented yet' });
}

/** createCallMaintenance returns the periodic call tasks: reminders and digests, and escalation. */
export function createCallMaintenance(_deps: HandlerDeps) {
  return { 'call-reminders': async () => undefined, escalate: async () => undefined };
}
