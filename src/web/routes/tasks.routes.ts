/**
 * A task in queue mode: GET /console/tasks/:id (the customer's story, talking points, outcome buttons), then
 * POST /console/tasks/:id/outcome goes straight on to the next task; POST /console/tasks/:id/reschedule moves it.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as taskService from '../../services/task.service';
import * as queue from '../../services/work-queue.service';
import { OUTCOME_WORDS } from '../../services/customer-story.service';
import { CALL_OUTCOMES, RESCHEDULE_PRESETS, type CallOutcome } from '../../domain/call-task';
import { NotFoundError } from '../../services/errors';
import { actorOf, staffOf } from '../auth';
import type { WebDeps } from '../plugin';
import type { ServiceContext } from '../../services/context';

const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });
const OutcomeForm = Type.Object({
  _csrf: Type.Optional(Type.String()),
  outcome: Type.Union(CALL_OUTCOMES.map((o) => Type.Literal(o))),
  notes: Type.Optional(Type.String({ maxLength: 5000 })),
});
const RescheduleForm = Type.Object({
  _csrf: Type.Optional(Type.String()),
  preset: Type.Union(RESCHEDULE_PRESETS.map((p) => Type.Literal(p))),
  date: Type.Optional(Type.String({ maxLength: 10 })),
});
const Query = Type.Object({
  saved: Type.Optional(Type.String({ format: 'uuid' })),
  moved: Type.Optional(Type.String({ format: 'date-time' })),
  noted: Type.Optional(Type.Union([Type.Literal('note'), Type.Literal('complaint')])),
});

/** OUTCOME_BUTTONS are the five outcomes in the order of their keys 1-5, with a hint of what each does. */
export const OUTCOME_BUTTONS: { value: CallOutcome; label: string; hint: string }[] = [
  { value: 'reached', label: OUTCOME_WORDS.reached!, hint: 'The call is done.' },
  { value: 'voicemail', label: OUTCOME_WORDS.voicemail!, hint: 'The call is done.' },
  { value: 'no_answer', label: OUTCOME_WORDS.no_answer!, hint: 'Tried again in 2 business days (3 tries at most).' },
  { value: 'wrong_number', label: OUTCOME_WORDS.wrong_number!, hint: 'The number is flagged for clean-up.' },
  { value: 'complaint', label: OUTCOME_WORDS.complaint!, hint: 'Their plan pauses and your manager gets a task.' },
];

function callerOf(req: FastifyRequest): taskService.Caller {
  const me = staffOf(req);
  return { role: 'staff', staffId: me.id, actor: actorOf(me) };
}

/**
 * savedNotice says what was just recorded on a task (shown on the page the queue moves on to); null for a task the
 * viewer may not see or one without an outcome.
 */
export async function savedNotice(
  ctx: ServiceContext,
  caller: taskService.Caller,
  taskId: string,
): Promise<{ name: string; outcome: string } | null> {
  const done = await taskService.getTask(ctx, caller, taskId).catch((err) => {
    if (err instanceof NotFoundError) return null;
    throw err;
  });
  if (!done?.outcome) return null;
  const name = [done.customer.firstName, done.customer.lastName].filter(Boolean).join(' ');
  return { name, outcome: OUTCOME_WORDS[done.outcome] ?? done.outcome };
}

/** callerOfRequest is the signed-in staff member as the services' Caller. */
export function callerOfRequest(req: FastifyRequest): taskService.Caller {
  return callerOf(req);
}

/** taskRoutes registers the task page and its forms. */
export async function taskRoutes(app: FastifyInstance, { ctx }: WebDeps): Promise<void> {
  app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof Query> }>(
    '/tasks/:id',
    { preHandler: app.requireStaff, schema: { params: Params, querystring: Query } },
    async (req, reply) => {
      const caller = callerOf(req);
      const screen = await queue.taskScreen(ctx, caller, req.params.id);
      const saved = req.query.saved ? await savedNotice(ctx, caller, req.query.saved) : null;
      return reply.page('task', {
        title: `${screen.task.kind === 'call' ? 'Call' : 'Task'}: ${screen.story.name}`,
        ...screen,
        outcomes: OUTCOME_BUTTONS,
        saved,
        moved: req.query.moved ? new Date(req.query.moved) : null,
        noted: req.query.noted ?? null,
        now: ctx.clock.now(),
      });
    },
  );

  app.post<{ Params: Static<typeof Params>; Body: Static<typeof OutcomeForm> }>(
    '/tasks/:id/outcome',
    { preHandler: app.requireStaff, schema: { params: Params, body: OutcomeForm } },
    async (req, reply) => {
      const caller = callerOf(req);
      const done = await taskService.recordOutcome(ctx, caller, req.params.id, {
        outcome: req.body.outcome,
        notes: req.body.notes ?? null,
      });
      const place = await queue.queuePlace(ctx, caller.staffId!, done.id, done.dueAt);
      const next = place.nextId ? `/console/tasks/${place.nextId}` : '/console/today';
      return reply.redirect(`${next}?saved=${done.id}`, 303);
    },
  );

  app.post<{ Params: Static<typeof Params>; Body: Static<typeof RescheduleForm> }>(
    '/tasks/:id/reschedule',
    { preHandler: app.requireStaff, schema: { params: Params, body: RescheduleForm } },
    async (req, reply) => {
      const dueAt = await taskService.rescheduleTask(ctx, callerOf(req), req.params.id, {
        preset: req.body.preset,
        date: req.body.date || undefined,
      });
      return reply.redirect(`/console/tasks/${req.params.id}?moved=${encodeURIComponent(dueAt.toISOString())}`, 303);
    },
  );
}
