/** Segments: GET/POST /v1/segments and PUT /v1/segments/:id (admin). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as segments from '../../services/segment.service';
import type { ServiceContext } from '../../services/context';
import { IdParams, errors } from '../schemas';
import { SegmentBody } from '../../services/segment-input';

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
