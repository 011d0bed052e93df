/**
 * Call touches and the periodic call duties. A due call becomes a task on the assignee's list (the touch is then
 * `sent`; it is `done` once an outcome is recorded); reminders, digests and escalations run as maintenance tasks.
 */
import { openCallTasks } from '../services/task.service';
import { createBatcher } from '../services/batcher';
import { escalateOverdueTasks, sendReminders } from '../services/call-reminder.service';
import type { MaintenanceTask } from './contract';
import type { LeasedTouch } from '../db/repositories/touch-lifecycle.repository';
import type { Deliver, HandlerDeps } from './handler-deps';

/** createCallDelivery turns a due call touch into a task for the person the step names, with the calls due at once. */
export function createCallDelivery(deps: HandlerDeps): Deliver {
  return createBatcher((touches: LeasedTouch[]) => openCallTasks(deps.ctx, touches, deps.batches.contextRows));
}

/** createCallMaintenance returns the periodic call tasks: reminders and digests, and escalation. */
export function createCallMaintenance(
  deps: HandlerDeps,
): Record<Extract<MaintenanceTask, 'call-reminders' | 'escalate'>, () => Promise<unknown>> {
  return {
    'call-reminders': () => sendReminders(deps.ctx, deps.email),
    escalate: () => escalateOverdueTasks(deps.ctx),
  };
}
