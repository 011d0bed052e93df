/**
 * POST /v1/imports streams a CSV or NDJSON file of sales into storage and queues it; GET /v1/imports/:id reports
 * its progress and rejected rows. The upload is never read whole into memory: this plugin's content-type parsers
 * hand the raw request stream to the service, which stores it in chunks as it arrives.
 */
import type { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { createImport, getImportReport, MAX_IMPORT_BYTES } from '../../services/import.service';
import { AppError } from '../../services/errors';
import { callerOf } from '../plugins/auth';
import type { ServiceContext } from '../../services/context';
import type { ImportFormat } from '../../services/import-format';
import { IdParams, Nullable, errors } from '../schemas';

const FORMAT_OF: Record<string, ImportFormat> = {
  'text/csv': 'csv',
  'application/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
};

const ImportQuery = Type.Object({
  dateFormat: Type.Optional(
    Type.Union([Type.Literal('dmy'), Type.Literal('mdy')], { description: 'order of slashed CSV dates (default dmy)' }),
  ),
  source: Type.Optional(
    Type.String({ pattern: '^[A-Za-z0-9._:-]{1,100}$', description: 'source of CSV rows with no source column value' }),
  ),
  currency: Type.Optional(
    Type.String({ pattern: '^[A-Z]{3}$', description: 'currency of CSV rows with no currency value' }),
  ),
  fileName: Type.Optional(Type.String({ maxLength: 200 })),
});

const ImportCreated = Type.Object({ import: Type.Object({ id: Type.String(), status: Type.String() }) });

const ImportReportSchema = Type.Object({
  import: Type.Object({
    id: Type.String(),
    status: Type.String(),
    format: Type.String(),
    fileName: Nullable(Type.String()),
    bytes: Type.Integer(),
    rowsRead: Type.Integer(),
    salesRead: Type.Integer(),
    imported: Type.Integer(),
    duplicates: Type.Integer(),
    rejected: Type.Integer(),
    error: Nullable(Type.String()),
    createdAt: Type.String(),
    startedAt: Nullable(Type.String()),
    finishedAt: Nullable(Type.String()),
    rejections: Type.Array(
      Type.Object({
        line: Type.Integer(),
        field: Type.String(),
        reason: Type.String(),
        externalId: Type.Optional(Nullable(Type.String())),
      }),
    ),
    moreRejections: Type.Integer(),
  }),
});

/** formatOf returns the import format of a Content-Type, or throws the 415 of a type no parser accepts. */
function formatOf(contentType: string | undefined): ImportFormat {
  const format = FORMAT_OF[(contentType ?? '').split(';')[0].trim().toLowerCase()];
  if (!format)
    throw Object.assign(new Error('Content-Type must be text/csv or application/x-ndjson'), {
      statusCode: 415,
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
    });
  return format;
}

/** ImportsRoutesOptions: the context, and how to hand a stored import to the workers. */
export interface ImportsRoutesOptions {
  ctx: ServiceContext;
  enqueueImport?: (importId: string) => Promise<void>;
}

/** importsRoutes registers POST /v1/imports and GET /v1/imports/:id. */
export const importsRoutes: FastifyPluginAsyncTypebox<ImportsRoutesOptions> = async (app, { ctx, enqueueImport }) => {
  // Pass the raw stream through: the service stores it chunk by chunk.
  app.addContentTypeParser(Object.keys(FORMAT_OF), { bodyLimit: MAX_IMPORT_BYTES }, (_req, payload, done) =>
    done(null, payload),
  );

  app.post(
    '/v1/imports',
    {
      config: { roles: ['pos'], streamedBody: true },
      bodyLimit: MAX_IMPORT_BYTES,
      // The route's 2 GiB limit would also apply to Fastify's JSON and text parsers, which buffer the whole body:
      // any other type is refused before a byte of the body is read.
      preParsing: async (req, _reply, payload) => {
        formatOf(req.headers['content-type']);
        return payload;
      },
      schema: {
        tags: ['imports'],
        summary: 'Upload a CSV or NDJSON file of past sales; it is imported in the background',
        description:
          'Body: text/csv (columns in docs/imports.md) or application/x-ndjson (one POST /v1/sales body a line).',
        querystring: ImportQuery,
        response: { 202: ImportCreated, ...errors(400, 401, 403, 413, 415, 429, 503) },
      },
    },
    async (req, reply) => {
      const format = formatOf(req.headers['content-type']);
      if (!enqueueImport) throw new AppError('unavailable', 'imports: no job queue is configured in this process');
      const created = await createImport(ctx, { format, ...req.query }, req.body as Readable, `key:${req.apiKey?.id}`);
      try {
        await enqueueImport(created.id);
      } catch (err) {
        // The file is stored and the import queued in Postgres: the workers' reconciler adds its job once Redis is
        // back, so it is accepted all the same (posting it again would import a second copy).
        req.log.warn({ err, importId: created.id }, 'could not queue the import now; the reconciler will');
      }
      return reply.status(202).send({ import: { id: created.id, status: created.status } });
    },
  );

  app.get(
    '/v1/imports/:id',
    {
      config: { roles: ['pos'] },
      schema: {
        tags: ['imports'],
        summary: 'Progress and result of an import, with its rejected rows (the first 1,000)',
        params: IdParams,
        response: { 200: ImportReportSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      // A till's key reads only the imports it uploaded (another till's rejected rows name other customers).
      const key = callerOf(req);
      const owner = key.role === 'pos' ? `key:${key.id}` : undefined;
      return { import: await getImportReport(ctx, req.params.id, undefined, owner) };
    },
  );
};
