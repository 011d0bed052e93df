/** POST /v1/sales: a point-of-sale system posts each sale. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { recordSale } from '../../services/sale.service';
import { SaleInputSchema } from '../../services/sale-input';
import type { ServiceContext } from '../../services/context';
import { TouchSummarySchema, errors } from '../schemas';

const SaleResponseSchema = Type.Object({
  sale: Type.Object({ id: Type.String() }),
  customer: Type.Object({ id: Type.String() }),
  segment: Type.Object({ id: Type.String(), name: Type.String() }),
  touches: Type.Array(TouchSummarySchema),
  warnings: Type.Optional(
    Type.Array(Type.String(), {
      description:
        'what the sender should know: a misconfigured segment the sale could not go to, or a customer no letter or email can reach (flagged for clean-up)',
    }),
  ),
});

/** salesRoutes records sales: 201 when new, 200 with the same body for a replay, 409 for a reused id. */
export const salesRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  app.post(
    '/v1/sales',
    {
      config: { roles: ['pos'] },
      schema: {
        tags: ['sales'],
        summary: 'Record a sale and plan its follow-up contacts',
        body: SaleInputSchema,
        response: { 200: SaleResponseSchema, 201: SaleResponseSchema, ...errors(400, 401, 403, 409, 413) },
      },
    },
    async (req, reply) => {
      const outcome = await recordSale(ctx, req.body, `key:${req.apiKey?.id}`);
      return reply.status(outcome.created ? 201 : 200).send(outcome.response);
    },
  );
};
