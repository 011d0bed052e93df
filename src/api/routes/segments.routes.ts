/** Segments: GET/POST /v1/segments and PUT /v1/segments/:id (admin). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as segments from '../../services/segment.service';
import type { ServiceContext } from '../../services/context';
import { IdParams, errors } from '../schemas';

const Role = Type.Union([Type.Literal('salesperson'), Type.Literal('executive'), Type.Literal('manager')]);
const Money = Type.String({ pattern: '^[0-9]{1,12}(\\.[0-9]{1,2})?$' });
const Clock = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' });

const PlanStepSchema = Type.Object(
  {
    step: Type.Integer({ minimum: 1, maximum: 1000 }),
    offset: Type.Object(
      {
        years: Type.Optional(Type.Integer({ minimum: 0, maximum: 50 })),
        months: Type.Optional(Type.Integer({ minimum: 0, maximum: 600 })),
        weeks: Type.Optional(Type.Integer({ minimum: 0, maximum: 2600 })),
        days: Type.Optional(Type.Integer({ minimum: 0, maximum: 20000 })),
      },
      { additionalProperties: false },
    ),
    channel: Type.Union([Type.Literal('mail'), Type.Literal('call')], {
      description: 'mail = letter or email, per customer',
    }),
    sender: Type.Optional(Role),
    assignee: Type.Optional(Role),
    purpose: Type.String({ minLength: 1, maxLength: 500 }),
    template: Type.Optional(
      Type.Object(
        {
          subject: Type.String({ minLength: 1, maxLength: 300 }),
          body: Type.String({ minLength: 1, maxLength: 20000 }),
        },
        { additionalProperties: false },
      ),
    ),
    talkingPoints: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1000 }), { maxItems: 20 })),
    trigger: Type.Optional(
      Type.Literal('referral', {
        description: "referral = due `offset` after each sale credited to the customer's referral code (a thank-you)",
      }),
    ),
  },
  { additionalProperties: false },
);

const SegmentBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    match: Type.Optional(
      Type.Object(
        {
          categories: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
          skus: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
          minTotal: Type.Optional(Money),
          maxTotal: Type.Optional(Money),
          sources: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
        },
        { additionalProperties: false },
      ),
    ),
    plan: Type.Optional(Type.Array(PlanStepSchema, { minItems: 1, maxItems: 50 })),
    sendWindow: Type.Optional(
      Type.Object(
        {
          days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1, maxItems: 7 }),
          start: Clock,
          end: Clock,
        },
        { additionalProperties: false },
      ),
    ),
    laterYears: Type.Optional(
      Type.Object(
        { humanContact: Type.Union([Type.Literal('call'), Type.Literal('letter')]) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const SegmentSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  priority: Type.Integer(),
  isDefault: Type.Boolean(),
  match: Type.Unknown(),
  plan: Type.Array(Type.Unknown()),
  sendWindow: Type.Unknown(),
  laterYears: Type.Unknown(),
  planVersion: Type.Optional(Type.Integer({ description: 'the plan version new sales get' })),
});

/** segmentRoutes lets admins list, create and change segments. */
export const segmentRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  app.get(
    '/v1/segments',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['segments'],
        response: { 200: Type.Object({ segments: Type.Array(SegmentSchema) }), ...errors(401, 403) },
      },
    },
    async () => ({
      segments: await segments.listSegments(ctx),
    }),
  );
  app.post(
    '/v1/segments',
    {
      config: { roles: ['admin'], idempotent: true },
      schema: {
        tags: ['segments'],
        body: SegmentBody,
        response: { 201: SegmentSchema, ...errors(400, 401, 403, 409) },
      },
    },
    async (req, reply) => reply.status(201).send(await segments.createSegment(ctx, req.body, `key:${req.apiKey?.id}`)),
  );
  app.put(
    '/v1/segments/:id',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['segments'],
        params: IdParams,
        body: SegmentBody,
        response: { 200: SegmentSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => segments.updateSegment(ctx, req.params.id, req.body, `key:${req.apiKey?.id}`),
  );
};
