/** Segments: GET/POST /v1/segments and PUT /v1/segments/:id (admin). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as segments from '../../services/segment.service';
import { previewStep, stepsOnDefaultWording } from '../../services/preview.service';
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
    purpose: Type.String({ minLength: 1, maxLength: 500, description: 'why the step exists, for staff only' }),
    customerDescription: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 300,
        description: "the coming contact in the customer's words, on their page (Liquid); absent: a default",
      }),
    ),
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
    content: Type.Optional(
      Type.Object(
        {
          careTips: Type.Optional(Type.String({ maxLength: 2000, description: 'care tips, used by steps 3 and 6' })),
          whatsNew: Type.Optional(Type.String({ maxLength: 2000, description: "what's new, used by step 4" })),
          serviceOffer: Type.Optional(Type.String({ maxLength: 2000, description: 'an offer of service, step 5' })),
        },
        { additionalProperties: false, description: 'content blocks the steps use; an empty one is left out' },
      ),
    ),
  },
  { additionalProperties: false },
);

const PreviewBody = Type.Object(
  {
    step: Type.Integer({ minimum: 1, maximum: 1000 }),
    channel: Type.Union([Type.Literal('email'), Type.Literal('letter')]),
    customerId: Type.Optional(Type.String({ format: 'uuid', description: 'omit: a sample customer' })),
    country: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: "the sample's country (paper)" })),
  },
  { additionalProperties: false },
);
const EmailPreviewSchema = Type.Object({
  channel: Type.Literal('email'),
  from: Type.String(),
  replyTo: Type.Union([Type.String(), Type.Null()]),
  to: Type.String(),
  subject: Type.String(),
  text: Type.String(),
  html: Type.String(),
});

const SegmentSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  priority: Type.Integer(),
  isDefault: Type.Boolean(),
  match: Type.Unknown(),
  plan: Type.Array(Type.Unknown()),
  sendWindow: Type.Unknown(),
  laterYears: Type.Unknown(),
  content: Type.Unknown(),
  /** The mail steps going out on default wording: their content block is still empty. */
  stepsOnDefaultWording: Type.Array(Type.Integer()),
});

const withWording = (s: Awaited<ReturnType<typeof segments.listSegments>>[number]) => ({
  ...s,
  stepsOnDefaultWording: stepsOnDefaultWording(s),
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
      segments: (await segments.listSegments(ctx)).map(withWording),
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
    async (req, reply) =>
      reply.status(201).send(withWording(await segments.createSegment(ctx, req.body, `key:${req.apiKey?.id}`))),
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
    async (req) => withWording(await segments.updateSegment(ctx, req.params.id, req.body, `key:${req.apiKey?.id}`)),
  );
  app.post(
    '/v1/segments/:id/preview',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['segments'],
        summary: 'Render a step exactly as it would be sent: the email (JSON) or the letter (PDF)',
        params: IdParams,
        body: PreviewBody,
        produces: ['application/json', 'application/pdf'],
        response: { 200: Type.Union([EmailPreviewSchema, Type.Unknown()]), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const preview = await previewStep(ctx, { segmentId: req.params.id, ...req.body });
      if (preview.channel === 'letter')
        return reply
          .type('application/pdf')
          .header('content-disposition', 'inline; filename="preview.pdf"')
          .send(Buffer.from(preview.pdf));
      return preview;
    },
  );
};
