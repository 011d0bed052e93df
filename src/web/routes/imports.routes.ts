/**
 * The manager's imports: GET /console/manager/imports (past imports and the upload form), POST (a CSV or NDJSON
 * file as multipart/form-data, streamed into storage by the import service and queued like POST /v1/imports, within
 * the same size limit and the uploader's 24-hour quota), GET /console/manager/imports/:id (live progress, then the
 * counts and the rejected rows), its progress fragment for htmx polling, and the rejected rows as CSV.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  createImport,
  getImportReport,
  importPercent,
  listImports,
  MAX_IMPORT_BYTES,
  REJECTIONS_SHOWN,
  type ImportReport,
} from '../../services/import.service';
import { actorNames } from '../../services/audit.service';
import { AppError, ValidationError } from '../../services/errors';
import type { ImportFormat } from '../../services/import-format';
import { actorOf, staffOf } from '../auth';
import { boundaryOf, MultipartError, readMultipart, type MultipartForm } from '../multipart';
import type { WebDeps } from '../plugin';

/** SHOWN is how many rejected rows the page lists; the CSV has them all (up to CSV_ROWS). */
const SHOWN = 200;

/** CSV_ROWS bounds the rejected rows of one download. */
const CSV_ROWS = 1_000_000;

const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** FORM is where the parsed multipart form rides on the request body (beside its text fields, for the CSRF check). */
const FORM = Symbol('multipart form');

/**
 * BATCH_SIZE: a console upload commits every 500 sales (the API's and the command line's, 2,000), so its progress bar
 * moves in small steps and each batch holds a worker for less time; the cost is a few more transactions.
 */
const BATCH_SIZE = 500;

const FORMATS: Record<string, ImportFormat> = { csv: 'csv', ndjson: 'ndjson', jsonl: 'ndjson' };

/** UploadForm is what the form sent besides its file. */
interface UploadFields {
  format?: string;
  dateFormat?: string;
  source?: string;
  currency?: string;
}

type FieldErrors = Record<string, string>;

/** formatOf decides the format: the one chosen, else the file name's extension. */
function formatOf(chosen: string | undefined, fileName: string): ImportFormat | null {
  if (chosen === 'csv' || chosen === 'ndjson') return chosen;
  return FORMATS[/\.([A-Za-z]+)$/.exec(fileName)?.[1]?.toLowerCase() ?? ''] ?? null;
}

function checkFields(form: MultipartForm): { errors: FieldErrors; format: ImportFormat | null } {
  const f = form.fields as UploadFields;
  const errors: FieldErrors = {};
  if (f.format && !['', 'auto', 'csv', 'ndjson'].includes(f.format)) errors.format = 'Choose CSV or NDJSON.';
  if (f.dateFormat && f.dateFormat !== 'dmy' && f.dateFormat !== 'mdy')
    errors.dateFormat = 'Choose day first or month first.';
  if (f.source && !/^[A-Za-z0-9._:-]{1,100}$/.test(f.source.trim()))
    errors.source = 'Use up to 100 letters, digits and . _ : - (no spaces).';
  if (f.currency && !/^[A-Z]{3}$/.test(f.currency.trim().toUpperCase()))
    errors.currency = 'Use a three-letter currency code such as AUD.';
  let format: ImportFormat | null = null;
  if (!form.file || form.file.fileName === '') errors.file = 'Choose a CSV or NDJSON file to upload.';
  else {
    format = formatOf(f.format, form.file.fileName);
    if (!format && !errors.format)
      errors.format = 'The file name does not end in .csv or .ndjson: choose its type here.';
  }
  return { errors, format };
}

/** discard reads the rest of an upload and drops it (the form is answered with its errors). */
function discard(form: MultipartForm): void {
  form.file?.stream.resume();
}

/** csvCell quotes a cell and defuses a leading = + - @ (a spreadsheet would run it as a formula). */
function csvCell(value: string | number | null | undefined): string {
  let s = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function progressLocals(r: ImportReport) {
  const running = r.status === 'uploading' || r.status === 'queued' || r.status === 'running';
  return {
    report: r,
    percent: importPercent(r),
    running,
    shown: r.rejections.slice(0, SHOWN),
    // Rows the page does not list but the CSV has (a report carries the first REJECTIONS_SHOWN).
    more: Math.max(0, r.rejections.length - SHOWN) + (r.rejections.length >= REJECTIONS_SHOWN ? r.moreRejections : 0),
  };
}

/** importsRoutes registers the manager's import pages. */
export async function importsRoutes(app: FastifyInstance, { ctx, enqueueImport }: WebDeps): Promise<void> {
  const guard = { preHandler: app.requireManager };

  // The upload's body is read as it arrives: its text fields (the CSRF token among them) before the handler, its
  // file by the import service. The limits of the text fields are small; the file's is the service's.
  app.addContentTypeParser('multipart/form-data', (req, payload, done) => {
    const boundary = boundaryOf(req.headers['content-type']);
    if (!boundary) return done(new MultipartError('the form has no boundary'));
    readMultipart(payload, boundary, { fieldBytes: 16 * 1024, fields: 20 }).then(
      (form) => done(null, { ...form.fields, [FORM]: form }),
      (err: Error) => done(err instanceof MultipartError ? err : Object.assign(err, { statusCode: 400 })),
    );
  });

  // Whatever the answer (a refused CSRF token, an error page), the rest of an upload is read and dropped.
  app.addHook('onResponse', async (req) => {
    formOf(req)?.file?.stream.resume();
  });

  async function listPage(reply: FastifyReply, locals: Record<string, unknown> = {}, status = 200) {
    const errors = (locals.errors ?? {}) as FieldErrors;
    const imports = await listImports(ctx, 50);
    const names = await actorNames(
      ctx,
      imports.map((i) => i.createdBy ?? 'the command line'),
    );
    return reply.page(
      'manager-imports',
      {
        title: 'Imports',
        imports: imports.map((i) => ({
          ...i,
          who: i.createdBy ? names.get(i.createdBy) : 'the command line',
          percent: importPercent(i),
        })),
        canUpload: Boolean(enqueueImport),
        maxGiB: MAX_IMPORT_BYTES / 1024 ** 3,
        fields: {},
        errors: {},
        ...locals,
        errorList: Object.entries(errors).map(([field, message]) => ({ field, message })),
      },
      status,
    );
  }

  app.get('/manager/imports', guard, async (_req, reply) => listPage(reply));

  app.post('/manager/imports', { ...guard, config: { streamedBody: true } }, async (req, reply) => {
    const form = formOf(req);
    if (!form) {
      // Not multipart: the form was sent without its file (an old browser, or a hand-made request).
      return listPage(reply, { errors: { file: 'Choose a CSV or NDJSON file to upload.' } }, 400);
    }
    if (!enqueueImport) {
      discard(form);
      const file = 'Imports cannot run here: this server has no job queue. Ask your administrator.';
      return listPage(reply, { errors: { file }, fields: form.fields }, 503);
    }
    const { errors, format } = checkFields(form);
    if (Object.keys(errors).length > 0 || !format || !form.file) {
      discard(form);
      return listPage(reply, { errors, fields: form.fields }, 400);
    }
    const f = form.fields as UploadFields;
    const me = staffOf(req);
    let created;
    try {
      created = await createImport(
        ctx,
        {
          format,
          dateFormat: (f.dateFormat || undefined) as 'dmy' | 'mdy' | undefined,
          source: f.source?.trim() || undefined,
          currency: f.currency?.trim().toUpperCase() || undefined,
          fileName: form.file.fileName.slice(0, 200),
          batchSize: BATCH_SIZE,
        },
        form.file.stream,
        actorOf(me),
      );
    } catch (err) {
      discard(form);
      if (err instanceof AppError && err.code === 'too_many_requests')
        return listPage(
          reply,
          { errors: { file: 'You have uploaded as much as allowed in the last 24 hours. Try again tomorrow.' } },
          429,
        );
      if (err instanceof AppError && err.code === 'payload_too_large')
        return listPage(reply, { errors: { file: 'The file is larger than the 2 GiB limit. Split it in two.' } }, 413);
      if (err instanceof ValidationError && err.field === 'body')
        return listPage(reply, { errors: { file: 'The file is empty.' }, fields: form.fields }, 400);
      throw err;
    }
    try {
      await enqueueImport(created.id);
    } catch (err) {
      // Stored and queued in Postgres: the workers' reconciler adds its job once Redis is back (as for the API).
      req.log.warn({ err, importId: created.id }, 'could not queue the import now; the reconciler will');
    }
    return reply.redirect(`/console/manager/imports/${created.id}`, 303);
  });

  app.get<{ Params: { id: string } }>(
    '/manager/imports/:id',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const report = await getImportReport(ctx, req.params.id);
      const names = await actorNames(ctx, report.createdBy ? [report.createdBy] : []);
      return reply.page('manager-import', {
        title: `Import of ${report.fileName ?? 'a file'}`,
        who: report.createdBy ? names.get(report.createdBy) : 'the command line',
        ...progressLocals(report),
      });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/manager/imports/:id/progress',
    { ...guard, schema: { params: Params } },
    async (req, reply) =>
      reply.fragment('manager-import-progress', progressLocals(await getImportReport(ctx, req.params.id))),
  );

  app.get<{ Params: { id: string } }>(
    '/manager/imports/:id/rejected.csv',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const report = await getImportReport(ctx, req.params.id, CSV_ROWS);
      const lines = ['line,field,reason,external_id'];
      for (const r of report.rejections)
        lines.push([r.line, r.field, r.reason, r.externalId].map((v) => csvCell(v)).join(','));
      const name = `rejected-rows-${(report.fileName ?? 'import').replace(/\.[A-Za-z]+$/, '').replace(/[^A-Za-z0-9._-]+/g, '-')}.csv`;
      return reply
        .header('cache-control', 'no-store')
        .header('content-disposition', `attachment; filename="${name}"`)
        .type('text/csv; charset=utf-8')
        .send(`${lines.join('\r\n')}\r\n`);
    },
  );
}

function formOf(req: FastifyRequest): MultipartForm | null {
  const body = req.body as Record<string | symbol, unknown> | undefined;
  return (body?.[FORM] as MultipartForm | undefined) ?? null;
}
