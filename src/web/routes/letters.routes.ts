/**
 * The manager's print room: GET /console/manager/letters (today's print batches and earlier ones),
 * GET /console/manager/letters/:id (a batch and its letters), GET …/:id/letters.pdf (the merged PDF, one page per
 * letter) and …/:id/addresses.csv, GET|POST …/:id/mailed ("mark mailed", with a confirmation: its letters are sent).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  batchAddressesCsv,
  batchLabel,
  batchPdf,
  businessDay,
  getBatchLetters,
  listBatches,
  markMailed,
} from '../../services/letter.service';
import { actorOf, staffOf } from '../auth';
import type { WebDeps } from '../plugin';

const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });
const PageQuery = Type.Object({ done: Type.Optional(Type.String({ maxLength: 20 })) });

function fileName(b: { businessDate: string; seq: number }, ext: string): string {
  return `letters-${b.businessDate}-${b.seq}.${ext}`;
}

/** letterRoutes registers the print batches' pages and downloads. */
export async function letterRoutes(app: FastifyInstance, { ctx }: WebDeps): Promise<void> {
  const guard = { preHandler: app.requireManager };

  app.get('/manager/letters', guard, async (_req, reply) => {
    const today = businessDay(ctx.clock.now(), ctx.settings.defaultTimezone);
    const batches = await listBatches(ctx, { limit: 200 });
    return reply.page('letters', {
      title: 'Letters',
      today,
      businessZone: ctx.settings.defaultTimezone,
      todays: batches.filter((b) => b.businessDate === today),
      earlier: batches.filter((b) => b.businessDate !== today),
    });
  });

  app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof PageQuery> }>(
    '/manager/letters/:id',
    { ...guard, schema: { params: Params, querystring: PageQuery } },
    async (req, reply) => {
      const { batch, letters } = await getBatchLetters(ctx, req.params.id);
      return reply.page('letters-batch', {
        title: `Letters: ${batchLabel(batch)}`,
        batch,
        label: batchLabel(batch),
        letters,
        done: req.query.done ?? null,
      });
    },
  );

  app.get<{ Params: Static<typeof Params> }>(
    '/manager/letters/:id/letters.pdf',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const { batch, pdf } = await batchPdf(ctx, req.params.id);
      return reply
        .type('application/pdf')
        .header('cache-control', 'no-store')
        .header('content-disposition', `attachment; filename="${fileName(batch, 'pdf')}"`)
        .send(Buffer.from(pdf));
    },
  );

  app.get<{ Params: Static<typeof Params> }>(
    '/manager/letters/:id/addresses.csv',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const { batch, csv } = await batchAddressesCsv(ctx, req.params.id);
      return reply
        .type('text/csv; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('content-disposition', `attachment; filename="${fileName(batch, 'csv')}"`)
        .send(csv);
    },
  );

  app.get<{ Params: Static<typeof Params> }>(
    '/manager/letters/:id/mailed',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const { batch, letters } = await getBatchLetters(ctx, req.params.id);
      if (batch.status === 'mailed') return reply.redirect(`/console/manager/letters/${batch.id}`, 303);
      return reply.page('letters-mailed', {
        title: `Mark ${batchLabel(batch)} mailed`,
        batch,
        label: batchLabel(batch),
        count: letters.length,
      });
    },
  );

  app.post<{ Params: Static<typeof Params> }>(
    '/manager/letters/:id/mailed',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const batch = await markMailed(ctx, req.params.id, actorOf(staffOf(req)));
      return reply.redirect(`/console/manager/letters/${batch.id}?done=mailed`, 303);
    },
  );
}
