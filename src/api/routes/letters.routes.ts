/**
 * Letter print batches under /v1/letters (admin): the list, one batch's letters, the batch as one merged PDF and
 * as a CSV of addresses, and marking it mailed (which marks its letters sent).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as letters from '../../services/letter.service';
import type { ServiceContext } from '../../services/context';
import { DateTimeSchema, IdParams, Nullable, errors } from '../schemas';

const BatchSchema = Type.Object({
  id: Type.String(),
  businessDate: Type.String({ format: 'date', description: 'the business day, in the business default time zone' }),
  seq: Type.Integer({
    description: '1 for the first batch of the day; the next once the one before was downloaded or mailed',
  }),
  status: Type.Union([Type.Literal('open'), Type.Literal('printing'), Type.Literal('mailed')], {
    description:
      'open: letters still join it; printing: downloaded, so closed to new letters; mailed: its letters are sent',
  }),
  paper: Type.Union([Type.Literal('A4'), Type.Literal('Letter')]),
  letterCount: Type.Integer(),
  createdAt: DateTimeSchema,
  closedAt: Nullable(DateTimeSchema),
  mailedAt: Nullable(DateTimeSchema),
});

const LetterSchema = Type.Object({
  touchId: Type.String(),
  customerId: Type.String(),
  customerName: Type.String(),
  step: Type.Integer(),
  status: Type.String(),
  subject: Nullable(Type.String()),
});

const ListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('printing'), Type.Literal('mailed')])),
    date: Type.Optional(Type.String({ format: 'date' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

const Binary = (description: string) =>
  Type.Unsafe<Uint8Array | string>({ type: 'string', format: 'binary', description });

function fileName(b: { businessDate: string; seq: number }, ext: string): string {
  return `letters-${b.businessDate}-${b.seq}.${ext}`;
}

/** lettersRoutes lets the print room list batches, download them and mark them mailed. */
export const lettersRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  app.get(
    '/v1/letters/batches',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['letters'],
        summary: 'List print batches, newest day first',
        querystring: ListQuery,
        response: { 200: Type.Object({ batches: Type.Array(BatchSchema) }), ...errors(400, 401, 403) },
      },
    },
    async (req) => ({ batches: await letters.listBatches(ctx, req.query) }),
  );

  app.get(
    '/v1/letters/batches/:id',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['letters'],
        summary: 'A print batch and its letters in print order',
        params: IdParams,
        response: {
          200: Type.Object({ batch: BatchSchema, letters: Type.Array(LetterSchema) }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => letters.getBatchLetters(ctx, req.params.id),
  );

  app.get(
    '/v1/letters/batches/:id/pdf',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['letters'],
        summary: 'The batch as one merged PDF, one page per letter',
        params: IdParams,
        response: { 200: Binary('application/pdf'), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const { batch, pdf } = await letters.batchPdf(ctx, req.params.id);
      return reply
        .type('application/pdf')
        .header('content-disposition', `inline; filename="${fileName(batch, 'pdf')}"`)
        .send(Buffer.from(pdf));
    },
  );

  app.get(
    '/v1/letters/batches/:id/addresses.csv',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['letters'],
        summary: 'The addresses of the batch, as CSV in print order',
        params: IdParams,
        response: { 200: Binary('text/csv'), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const { batch, csv } = await letters.batchAddressesCsv(ctx, req.params.id);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${fileName(batch, 'csv')}"`)
        .send(csv);
    },
  );

  app.post(
    '/v1/letters/batches/:id/mailed',
    {
      config: { roles: ['admin'], idempotent: true },
      schema: {
        tags: ['letters'],
        summary: 'Mark the batch mailed and its letters sent; again changes nothing',
        params: IdParams,
        response: { 200: BatchSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => letters.markMailed(ctx, req.params.id, `key:${req.apiKey?.id}`),
  );
};
