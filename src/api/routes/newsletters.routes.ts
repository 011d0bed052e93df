/** Newsletters (admin): publish an edition, list, show, preview for one customer, cancel before it is sent. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as newsletters from '../../services/newsletter.service';
import type { ServiceContext } from '../../services/context';
import { DateTimeSchema, IdParams, Nullable, errors } from '../schemas';

const Status = Type.Union([
  Type.Literal('draft'),
  Type.Literal('scheduled'),
  Type.Literal('sending'),
  Type.Literal('sent'),
  Type.Literal('cancelled'),
]);

const NewsletterBody = Type.Object(
  {
    subject: Type.String({ minLength: 1, maxLength: 300, description: 'Liquid template, one line once rendered' }),
    body: Type.String({
      minLength: 1,
      maxLength: 50_000,
      description: 'Markdown (links, emphasis, lists; raw HTML is shown as text) with Liquid variables',
    }),
    segmentId: Type.Optional(Nullable(Type.String({ format: 'uuid', description: 'omit or null: every segment' }))),
    sendAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'an instant; or give sendOn and localTime' }),
    ),
    sendOn: Type.Optional(
      Type.String({ format: 'date', description: "with localTime: that day in each recipient's zone" }),
    ),
    localTime: Type.Optional(Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:mm, local' })),
  },
  { additionalProperties: false },
);

const NewsletterSchema = Type.Object({
  id: Type.String(),
  subject: Type.String(),
  body: Type.String(),
  segmentId: Nullable(Type.String()),
  sendAt: DateTimeSchema,
  local: Nullable(Type.Object({ date: Type.String(), time: Type.String() })),
  status: Type.String(),
  counts: Type.Object({
    recipients: Type.Integer({ description: 'customers the edition was fanned out to' }),
    capped: Type.Integer({ description: 'customers held back: already 3 newsletters in a rolling year' }),
    scheduled: Type.Integer(),
    queued: Type.Integer(),
    sent: Type.Integer(),
    failed: Type.Integer(),
    skipped: Type.Integer(),
    cancelled: Type.Integer(),
  }),
  fannedOutAt: Nullable(DateTimeSchema),
  sentAt: Nullable(DateTimeSchema),
  cancelledAt: Nullable(DateTimeSchema),
  createdAt: DateTimeSchema,
});

const PreviewSchema = Type.Object({
  customerId: Nullable(Type.String()),
  subject: Type.String(),
  text: Type.String(),
  html: Type.String(),
});

/** newslettersRoutes lets admins publish, inspect, preview and cancel newsletter editions. */
export const newslettersRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  app.post(
    '/v1/newsletters',
    {
      config: { roles: ['admin'], idempotent: true },
      schema: {
        tags: ['newsletters'],
        summary: 'Publish a newsletter edition',
        body: NewsletterBody,
        response: { 201: NewsletterSchema, ...errors(400, 401, 403, 409) },
      },
    },
    async (req, reply) =>
      reply.status(201).send(await newsletters.publishNewsletter(ctx, req.body, `key:${req.apiKey?.id}`)),
  );
  app.get(
    '/v1/newsletters',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['newsletters'],
        querystring: Type.Object(
          { status: Type.Optional(Status), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ newsletters: Type.Array(NewsletterSchema) }), ...errors(400, 401, 403) },
      },
    },
    async (req) => ({
      newsletters: await newsletters.listNewsletters(ctx, { status: req.query.status, limit: req.query.limit }),
    }),
  );
  app.get(
    '/v1/newsletters/:id',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['newsletters'],
        params: IdParams,
        response: { 200: NewsletterSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => newsletters.getNewsletter(ctx, req.params.id),
  );
  app.get(
    '/v1/newsletters/:id/preview',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['newsletters'],
        summary: 'Render an edition for one customer (or a sample customer when none is given)',
        params: IdParams,
        querystring: Type.Object(
          { customerId: Type.Optional(Type.String({ format: 'uuid' })) },
          { additionalProperties: false },
        ),
        response: { 200: PreviewSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => newsletters.previewNewsletter(ctx, req.params.id, req.query.customerId),
  );
  app.post(
    '/v1/newsletters/:id/cancel',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['newsletters'],
        summary: 'Cancel an edition not yet sent, and its touches not yet delivered',
        params: IdParams,
        response: { 200: NewsletterSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => newsletters.cancelNewsletter(ctx, req.params.id, `key:${req.apiKey?.id}`),
  );
};
