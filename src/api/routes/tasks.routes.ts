/**
 * Call tasks and customer notes: GET /v1/tasks, GET /v1/tasks/:id, POST /v1/tasks/:id/outcome,
 * POST /v1/customers/:id/notes (a complaint pauses the plan) and POST /v1/customers/:id/resume.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import * as taskService from '../../services/task.service';
import { CALL_OUTCOMES, parseDueFilter } from '../../domain/call-task';
import { DATE_RANGE_REASON } from '../../domain/input-limits';
import { ValidationError } from '../../services/errors';
import type { ServiceContext } from '../../services/context';
import { callerOf } from '../plugins/auth';
import { DateTimeSchema, IdParams, Nullable, errors } from '../schemas';

const DateTime = DateTimeSchema;
const TaskSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  status: Type.String(),
  attempt: Type.Integer(),
  dueAt: DateTime,
  purpose: Nullable(Type.String()),
  talkingPoints: Type.Array(Type.String()),
  outcome: Nullable(Type.String()),
  notes: Nullable(Type.String()),
  sourceTaskId: Nullable(Type.String()),
  remindedAt: Nullable(DateTime),
  escalatedAt: Nullable(DateTime),
  escalatedTo: Nullable(Type.String()),
  completedAt: Nullable(DateTime),
  createdAt: DateTime,
  assignee: Nullable(Type.Object({ id: Type.String(), name: Type.String(), email: Type.String() })),
  customer: Type.Object({
    id: Type.String(),
    name: Type.String(),
    phone: Nullable(Type.String()),
    paused: Type.Boolean(),
  }),
  touch: Nullable(
    Type.Object({ id: Type.String(), step: Type.Integer(), channel: Type.String(), status: Type.String() }),
  ),
  history: Type.Array(
    Type.Object({
      at: DateTime,
      type: Type.String(),
      status: Nullable(Type.String()),
      detail: Nullable(Type.String()),
    }),
  ),
});
const ListQuery = Type.Object(
  {
    assignee: Type.Optional(Type.String({ format: 'uuid' })),
    status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('done'), Type.Literal('cancelled')])),
    due: Type.Optional(
      Type.String({ description: 'today (due by the end of today, overdue included), overdue, or a date YYYY-MM-DD' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
const OutcomeBody = Type.Object(
  {
    outcome: Type.Union(CALL_OUTCOMES.map((o) => Type.Literal(o))),
    notes: Type.Optional(Nullable(Type.String({ maxLength: 5000 }))),
  },
  { additionalProperties: false },
);
const NoteBody = Type.Object(
  { body: Type.String({ minLength: 1, maxLength: 5000, pattern: '\\S' }), complaint: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
const NoteSchema = Type.Object({
  id: Type.String(),
  customerId: Type.String(),
  complaint: Type.Boolean(),
  taskId: Nullable(Type.String()),
});

function present(t: taskService.TaskWithHistory) {
  const { customer, touch, ...rest } = t;
  const name = [customer.firstName, customer.lastName].filter(Boolean).join(' ');
  return {
    ...rest,
    customer: { id: customer.id, name, phone: customer.phone, paused: customer.paused },
    touch: touch ? { id: touch.id, step: touch.step, channel: touch.channel, status: touch.status } : null,
  };
}

function caller(req: FastifyRequest): taskService.Caller {
  const key = callerOf(req);
  return { role: key.role, staffId: key.staffId, actor: `key:${key.id}` };
}

/** tasksRoutes lets staff see and settle their call tasks, and note complaints; admins see and settle everyone's. */
export const tasksRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const staffOrAdmin = { roles: ['staff' as const, 'admin' as const] };
  app.get(
    '/v1/tasks',
    {
      config: staffOrAdmin,
      schema: {
        tags: ['tasks'],
        summary: 'List tasks; a staff key sees only its own',
        querystring: ListQuery,
        response: { 200: Type.Object({ tasks: Type.Array(TaskSchema) }), ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      const due = req.query.due === undefined ? undefined : parseDueFilter(req.query.due);
      if (due === null)
        throw new ValidationError('due', `must be today, overdue or a date YYYY-MM-DD (${DATE_RANGE_REASON})`);
      const list = await taskService.listTasks(ctx, caller(req), {
        assignee: req.query.assignee,
        status: req.query.status,
        due,
        limit: req.query.limit,
      });
      return { tasks: list.map(present) };
    },
  );
  app.get(
    '/v1/tasks/:id',
    {
      config: staffOrAdmin,
      schema: { tags: ['tasks'], params: IdParams, response: { 200: TaskSchema, ...errors(400, 401, 403, 404) } },
    },
    async (req) => present(await taskService.getTask(ctx, caller(req), req.params.id)),
  );
  app.post(
    '/v1/tasks/:id/outcome',
    {
      config: { ...staffOrAdmin, idempotent: true },
      schema: {
        tags: ['tasks'],
        summary: 'Record what happened on the call',
        description:
          'reached/voicemail: done. no_answer: another attempt two business days later (at most 3, then failed). ' +
          'wrong_number: failed, phone flagged for clean-up. complaint: plan paused, task for the manager.',
        params: IdParams,
        body: OutcomeBody,
        response: { 200: TaskSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => present(await taskService.recordOutcome(ctx, caller(req), req.params.id, req.body)),
  );
  app.post(
    '/v1/customers/:id/notes',
    {
      config: { ...staffOrAdmin, idempotent: true },
      schema: {
        tags: ['customers'],
        summary: 'Add a note; complaint=true pauses the plan and opens a task for the manager',
        params: IdParams,
        body: NoteBody,
        response: { 201: NoteSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => reply.status(201).send(await taskService.addNote(ctx, caller(req), req.params.id, req.body)),
  );
  app.post(
    '/v1/customers/:id/resume',
    {
      config: { roles: ['admin' as const], idempotent: true },
      schema: {
        tags: ['customers'],
        summary: 'Resume a paused customer plan',
        params: IdParams,
        response: { 200: Type.Object({ id: Type.String(), paused: Type.Boolean() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => taskService.resumeCustomer(ctx, caller(req).actor, req.params.id),
  );
};
