/** Segments: GET/POST /v1/segments and PUT /v1/segments/:id (admin). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as segments from '../../services/segment.service';
import { previewStep, stepsOnDefaultWording } from '../../services/preview.service';
import type { ServiceContext } from '../../services/context';
import { IdParams, errors } from '../schemas';
import { SegmentBody } from '../../services/segment-input';

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
  planVersion: Type.Optional(Type.Integer({ description: 'the plan version new sales get' })),
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
