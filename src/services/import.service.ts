/**
 * Importing sales history. An upload is stored in Postgres as chunks (so it is never held whole in memory and any
 * worker can process it), then processed in batches: each batch of sales is validated like POST /v1/sales, matched
 * to customers and salespeople, planned with computePlan, and written with a handful of multi-row statements in
 * one transaction that also advances the import's progress. A crash therefore resumes after the last committed
 * batch, and nothing is written twice. Per sale the rules are those of recordSale: a (source, externalId) already
 * stored is a duplicate (skipped and counted) or, with another body, rejected; the customer is found by
 * (source, externalId), then email, then phone, within the batch too; a customer with a running first-year plan gets
 * no second one; a customer whose first anniversary has passed moves to the later-years program.
 */
import { randomUUID } from 'node:crypto';
import { contactPointsOf } from '../domain/channel';
import { emailKey, matchCustomer, phoneKeyOf, type SaleIdentity } from '../domain/identity';
import { computePlan, type CallerCalendar, type PlanInput } from '../domain/plan';
import {
  applySaleContact,
  chooseCallers,
  mailWarnings,
  planFirstYear,
  saleAnswer,
  type PlanOfSale,
  type SaleWarning,
} from '../domain/sale-rules';
import { placeSale } from './segment.service';
import type { Address, PlannedTouch, PlanStep, Segment, StaffRole } from '../domain/types';
import type { Database } from '../db/database';
import * as repo from '../db/repositories/import.repository';
import { newReferralCode } from '../db/repositories/customer.repository';
import { endActiveRuns } from '../db/repositories/plan.repository';
import { listSegments } from '../db/repositories/segment.repository';
import { findFirstActiveByRole } from '../db/repositories/staff.repository';
import { audit } from '../db/repositories/access.repository';
import { AppError, NotFoundError, ValidationError } from './errors';
import { isUniqueViolation, type ServiceContext } from './context';
import { normalizeSaleCustomer, parseSaleInput, type NormalizedCustomer, type SaleInput } from './sale-input';
import { storableText } from '../domain/input-limits';
import { hashSale, type SaleResponse } from './sale.service';
import type { ContactCorrections } from '../domain/contact-corrections';
import {
  csvFieldOf,
  ImportFileError,
  readSales,
  type DateOrder,
  type ImportFormat,
  type ImportOptions,
  type RawSale,
} from './import-format';

/** CHUNK_BYTES is the size of the stored pieces of an upload. */
export const CHUNK_BYTES = 1024 * 1024;

/** MAX_IMPORT_BYTES is the largest file accepted (2 GiB). */
export const MAX_IMPORT_BYTES = 2 * 1024 ** 3;

/** DEFAULT_IMPORT_QUOTA_BYTES is what one key may upload in any 24 hours unless configured (10 GiB). */
export const DEFAULT_IMPORT_QUOTA_BYTES = 10 * 1024 ** 3;

/** QUOTA_WINDOW_MS is the period of the upload quota. */
const QUOTA_WINDOW_MS = 24 * 3600_000;

/** DEFAULT_BATCH_SIZE is how many sales one transaction writes. */
export const DEFAULT_BATCH_SIZE = 2000;

/** REJECTIONS_SHOWN caps the rejected rows listed in a report; the rest are counted. */
export const REJECTIONS_SHOWN = 1000;

/** ImportSettings are the reading options an upload declares. */
export interface ImportSettings {
  format: ImportFormat;
  dateFormat?: DateOrder;
  source?: string;
  currency?: string;
  fileName?: string | null;
  /** Sales per transaction (default DEFAULT_BATCH_SIZE); smaller batches commit progress more often. */
  batchSize?: number;
}

/** ImportReport is the state of an import as GET /v1/imports/:id and the command line show it. */
export interface ImportReport {
  id: string;
  status: repo.ImportStatus;
  format: ImportFormat;
  fileName: string | null;
  bytes: number;
  /** Lines in the file (null while it uploads, and for imports stored before lines were counted). */
  lines: number | null;
  /** The last line of the last committed batch: with `lines`, how far the import has read. */
  lastLine: number;
  /** Who uploaded it: `key:<api key id>`, `staff:<staff id>` (the console), or the command line. */
  createdBy: string | null;
  rowsRead: number;
  salesRead: number;
  imported: number;
  duplicates: number;
  rejected: number;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  rejections: repo.Rejection[];
  moreRejections: number;
}

/** ImportProgress is reported after each committed batch. */
export interface ImportProgress {
  bytesDone: number;
  bytesTotal: number;
  salesDone: number;
  rowsRead: number;
  imported: number;
  duplicates: number;
  rejected: number;
}

function checkSettings(s: ImportSettings): ImportOptions & { format: ImportFormat; batchSize?: number } {
  if (s.format !== 'csv' && s.format !== 'ndjson')
    throw new ValidationError('Content-Type', 'must be text/csv or application/x-ndjson');
  if (s.dateFormat !== undefined && s.dateFormat !== 'dmy' && s.dateFormat !== 'mdy')
    throw new ValidationError('dateFormat', 'must be dmy or mdy');
  if (s.source !== undefined && !/^[A-Za-z0-9._:-]{1,100}$/.test(s.source))
    throw new ValidationError('source', 'must be 1 to 100 of A-Z a-z 0-9 . _ : -');
  if (s.currency !== undefined && !/^[A-Z]{3}$/.test(s.currency))
    throw new ValidationError('currency', 'must be an ISO 4217 code such as AUD');
  if (s.batchSize !== undefined && (!Number.isInteger(s.batchSize) || s.batchSize < 1 || s.batchSize > 50_000))
    throw new ValidationError('batchSize', 'must be 1 to 50000');
  return {
    format: s.format,
    dateFormat: s.dateFormat ?? 'dmy',
    source: s.source,
    currency: s.currency,
    batchSize: s.batchSize,
    defaultTimezone: '',
  };
}

/**
 * createImport stores an uploaded file as chunks while it streams in and returns the queued import. Nothing is
 * processed yet: the caller enqueues the import job (or runs processImport itself).
 */
export async function createImport(
  ctx: ServiceContext,
  settings: ImportSettings,
  body: AsyncIterable<Buffer | string>,
  actor: string,
  onBytes?: (bytes: number) => void,
): Promise<repo.ImportRecord> {
  const opts = checkSettings(settings);
  const { format, defaultTimezone: _zone, ...options } = opts;
  const quota = ctx.settings.importQuotaBytes ?? DEFAULT_IMPORT_QUOTA_BYTES;
  const since = new Date(ctx.clock.now().getTime() - QUOTA_WINDOW_MS);
  const overQuota = () =>
    new AppError(
      'too_many_requests',
      `body: this key's imports of the last 24 hours reached its quota of ${quota} bytes`,
      {
        field: 'body',
        quotaBytes: quota,
      },
    );
  if ((await repo.sumUploadedBytes(ctx.db, actor, since, null)) >= quota) throw overQuota();
  const record = await repo.createImport(ctx.db, {
    format,
    options,
    fileName: settings.fileName ?? null,
    createdBy: actor,
    at: ctx.clock.now(),
  });
  let bytes = 0;
  let newlines = 0;
  let lastByte = -1;
  let seq = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let failed = false;
  const fail = async (reason: string, err: Error): Promise<never> => {
    failed = true;
    await repo.finishImport(ctx.db, record.id, 'failed', reason, ctx.clock.now()); // drops the chunks stored so far
    throw err;
  };
  const flush = async () => {
    if (pendingBytes === 0) return;
    await repo.appendChunk(ctx.db, record.id, seq++, Buffer.concat(pending, pendingBytes), bytes, ctx.clock.now());
    pending = [];
    pendingBytes = 0;
    // Other uploads of the same key run meanwhile: their stored bytes count as they arrive.
    if ((await repo.sumUploadedBytes(ctx.db, actor, since, record.id)) + bytes > quota)
      await fail('over the upload quota', overQuota());
  };
  try {
    for await (const part of body) {
      const buf = typeof part === 'string' ? Buffer.from(part) : part;
      bytes += buf.length;
      if (bytes > MAX_IMPORT_BYTES) {
        await fail(
          'file larger than 2 GiB',
          new AppError('payload_too_large', `body: larger than the import limit of ${MAX_IMPORT_BYTES} bytes`, {
            field: 'body',
          }),
        );
      }
      for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) newlines++;
      if (buf.length) lastByte = buf[buf.length - 1]!;
      pending.push(buf);
      pendingBytes += buf.length;
      if (pendingBytes >= CHUNK_BYTES) await flush();
      onBytes?.(bytes);
    }
    await flush();
  } catch (err) {
    // The client went away (or the database did) mid-upload: a partial file is never imported, nor kept.
    if (!failed) await fail(`upload aborted after ${bytes} bytes`, err as Error).catch(() => undefined);
    throw err;
  }
  if (bytes === 0) {
    await repo.deleteImport(ctx.db, record.id);
    throw new ValidationError('body', 'is empty');
  }
  // A last line without its newline is a line too (as the reader counts them).
  const lines = newlines + (lastByte === 10 ? 0 : 1);
  await repo.finishUpload(ctx.db, record.id, bytes, seq, ctx.clock.now(), lines);
  return { ...record, status: 'queued', bytes, chunks: seq, lines };
}

/** STALE_UPLOAD_MS: an upload that has received nothing for this long is failed and its chunks deleted. */
export const STALE_UPLOAD_MS = 3600_000;

/** failStaleUploads fails the uploads left `uploading` with nothing received for STALE_UPLOAD_MS; returns how many. */
export async function failStaleUploads(ctx: ServiceContext): Promise<number> {
  const ids = await repo.listStaleUploads(ctx.db, new Date(ctx.clock.now().getTime() - STALE_UPLOAD_MS), 1000);
  for (const id of ids)
    await repo.finishImport(
      ctx.db,
      id,
      'failed',
      'the upload stopped and did not finish within an hour',
      ctx.clock.now(),
    );
  if (ids.length) ctx.log.warn({ count: ids.length }, 'failed uploads that stopped');
  return ids.length;
}

/** getImportReport returns an import's state and its first rejected rows; with `owner`, only an import it created. */
export async function getImportReport(
  ctx: ServiceContext,
  id: string,
  limit = REJECTIONS_SHOWN,
  owner?: string,
): Promise<ImportReport> {
  const imp = await repo.findImport(ctx.db, id);
  // A reader limited to its own imports is told nothing of the others', not even that they exist.
  if (!imp || (owner !== undefined && imp.createdBy !== owner)) throw new NotFoundError('import', id);
  const rejections = await repo.listRejections(ctx.db, id, limit);
  return {
    ...summaryOf(imp),
    rejections: rejections.map((r) => ({
      line: r.line,
      field: r.field,
      reason: r.reason,
      externalId: r.externalId ?? null,
    })),
    moreRejections: Math.max(0, imp.rejected - rejections.length),
  };
}

/** ImportSummary is one import in a list: its counts, without its rejected rows. */
export type ImportSummary = Omit<ImportReport, 'rejections' | 'moreRejections'>;

/** summaryOf is an import's counts and state as the API and the console show them. */
function summaryOf(imp: repo.ImportRecord): ImportSummary {
  return {
    id: imp.id,
    status: imp.status,
    format: imp.format,
    fileName: imp.fileName,
    bytes: imp.bytes,
    lines: imp.lines,
    lastLine: imp.lastLine,
    createdBy: imp.createdBy,
    rowsRead: imp.rowsRead,
    salesRead: imp.salesDone,
    imported: imp.imported,
    duplicates: imp.duplicates,
    rejected: imp.rejected,
    error: imp.error,
    createdAt: imp.createdAt.toISOString(),
    startedAt: imp.startedAt?.toISOString() ?? null,
    finishedAt: imp.finishedAt?.toISOString() ?? null,
  };
}

/** listImports returns the latest `limit` imports, newest first, with their counts. */
export async function listImports(ctx: ServiceContext, limit = 50): Promise<ImportSummary[]> {
  return (await repo.listImports(ctx.db, limit)).map(summaryOf);
}

/**
 * importPercent is how far an import has gone, 0 to 100: lines read of the file's lines while it runs (at most 99
 * until it completes), 100 once completed.
 */
export function importPercent(r: Pick<ImportReport, 'status' | 'lines' | 'lastLine'>): number {
  if (r.status === 'completed') return 100;
  if (r.status === 'uploading' || !r.lines) return 0;
  return Math.min(99, Math.floor((r.lastLine * 100) / r.lines));
}

/** storedFile reads an upload back chunk by chunk, counting the bytes handed out. */
async function* storedFile(db: Database, importId: string, counter: { bytes: number }): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq++) {
    const chunk = await repo.readChunk(db, importId, seq);
    if (!chunk) return;
    counter.bytes += chunk.length;
    yield chunk;
  }
}

/** ImportInterrupted means another run of the same import committed a batch first; this run stops. */
class ImportInterrupted extends Error {}

/** ProcessOptions tune a run of processImport. */
export interface ProcessOptions {
  batchSize?: number;
  onProgress?: (p: ImportProgress) => void;
}

/**
 * processImport reads a stored upload and imports it batch by batch from where the last committed batch left off.
 * Running it again on a finished import does nothing; two runs at once never write a batch twice.
 */
export async function processImport(
  ctx: ServiceContext,
  importId: string,
  o: ProcessOptions = {},
): Promise<ImportReport> {
  const imp = await repo.findImport(ctx.db, importId);
  if (!imp) throw new NotFoundError('import', importId);
  if (imp.status === 'completed' || imp.status === 'failed' || imp.status === 'uploading')
    return getImportReport(ctx, importId);
  await repo.markRunning(ctx.db, importId, ctx.clock.now());
  const options: ImportOptions = {
    dateFormat: (imp.options.dateFormat as DateOrder) ?? 'dmy',
    source: imp.options.source as string | undefined,
    currency: imp.options.currency as string | undefined,
    defaultTimezone: ctx.settings.defaultTimezone,
  };
  const batchSize = o.batchSize ?? (imp.options.batchSize as number | undefined) ?? DEFAULT_BATCH_SIZE;
  const counter = { bytes: 0 };
  const totals = {
    salesDone: imp.salesDone,
    rowsRead: imp.rowsRead,
    imported: imp.imported,
    duplicates: imp.duplicates,
    rejected: imp.rejected,
  };
  let ordinal = 0;
  let batch: RawSale[] = [];
  // Two batches overlap: while one is written in its transaction, the next is read and validated, so the CPU work
  // of parsing and checking hides behind the wait for Postgres. Commits stay strictly in order.
  const initialSegments = await listSegments(ctx.db);
  const guesses: Guesses = {
    segments: initialSegments,
    segmentsJson: JSON.stringify(initialSegments),
    staff: new Map(),
    byRole: new Map(),
  };
  let inFlight: Promise<void> | null = null;
  let batches = 0;
  let nextAnalyze = 1;
  let failure: unknown = null;
  const commit = async () => {
    const now = ctx.clock.now();
    const prepared = { raw: batch, now, ...validate(ctx, batch, now) };
    guessPlans(ctx, prepared.valid, guesses, now);
    batch = [];
    if (inFlight) await inFlight;
    if (failure) throw failure;
    // The tables grow fast: statistics are refreshed after 1, 4, 16, 64... batches so plans keep using the indexes.
    if (batches === nextAnalyze) {
      nextAnalyze *= 4;
      await repo.analyzeImportTables(ctx.db);
    }
    inFlight = commitBatch(ctx, importId, totals.salesDone, prepared, guesses).then(
      (p) => {
        totals.salesDone += p.sales;
        totals.rowsRead += p.rows;
        totals.imported += p.imported;
        totals.duplicates += p.duplicates;
        totals.rejected += p.rejected;
        batches++;
        o.onProgress?.({ bytesDone: counter.bytes, bytesTotal: imp.bytes, ...totals });
      },
      (err: unknown) => {
        failure = err;
      },
    );
  };
  try {
    for await (const sale of readSales(storedFile(ctx.db, importId, counter), imp.format, options)) {
      // Sales up to the committed progress were written by an earlier run (before a crash): skip them.
      if (++ordinal <= imp.salesDone) continue;
      batch.push(sale);
      if (batch.length >= batchSize) await commit();
    }
    if (batch.length) await commit();
    if (inFlight) await inFlight;
    if (failure) throw failure;
  } catch (err) {
    await inFlight; // never rejects: its failure is kept in `failure`
    if (err instanceof ImportInterrupted) {
      ctx.log.warn({ importId }, 'import progressed in another run; this run stops');
      return getImportReport(ctx, importId);
    }
    if (err instanceof ImportFileError) {
      await repo.finishImport(ctx.db, importId, 'failed', err.message, ctx.clock.now());
      return getImportReport(ctx, importId);
    }
    throw err;
  }
  await ctx.db.transaction().execute(async (trx) => {
    await repo.finishImport(trx, importId, 'completed', null, ctx.clock.now());
    await audit(trx, {
      actor: `import:${importId}`,
      action: 'import.completed',
      entity: 'import',
      entityId: importId,
      detail: { ...totals },
      at: ctx.clock.now(),
    });
  });
  // An import leaves the statistics and the visibility map current, so the pages that read what it wrote are planned
  // for its size and its index-only reads stay in the index.
  await repo.vacuumWrittenTables(ctx.db);
  const report = await getImportReport(ctx, importId);
  ctx.log.info(
    { importId, imported: report.imported, duplicates: report.duplicates, rejected: report.rejected },
    'import completed',
  );
  return report;
}

/** failImport records that an import cannot go on (after its job exhausted its attempts). */
export async function failImport(ctx: ServiceContext, importId: string, reason: string): Promise<void> {
  await repo.finishImport(ctx.db, importId, 'failed', reason, ctx.clock.now());
}

interface ValidSale {
  raw: RawSale;
  input: SaleInput;
  /** The customer as the identity rules see them (normalizeSaleCustomer). */
  norm: NormalizedCustomer;
  hash: string;
  /** The plan computed ahead, outside the transaction, for the inputs named by `key` (used only if they hold). */
  guess?: { key: string; planned: PlannedTouch[] };
}

/**
 * Guesses are what the batch before last saw of segments and staff. Plans are computed while the previous batch is
 * being written, assuming the customer is as the sale describes them (true of every new customer); inside the
 * transaction a plan is reused only when its inputs turn out identical, else it is computed again.
 */
interface Guesses {
  segments: Segment[];
  segmentsJson: string;
  staff: Map<string, repo.StaffForPlan>;
  byRole: Map<StaffRole, repo.StaffForPlan | null>;
}

/** callerCalendars gives each call step the working days of the person who makes it (domain chooseCallers). */
function callerCalendars(
  steps: PlanStep[],
  salesperson: { id: string; workingDays: number[]; workStart: string } | null,
  byRole: Map<StaffRole, repo.StaffForPlan | null>,
): Map<number, CallerCalendar> {
  return new Map(
    [...chooseCallers(steps, salesperson, byRole)].map(([step, p]) => [
      step,
      { days: p.workingDays, start: p.workStart },
    ]),
  );
}

/** planKey names every input of a plan except the sale time, which is the same for a guess and its check. */
function planKey(
  segmentId: string,
  zone: string,
  callDays: number[],
  callStart: string | undefined,
  callers: Map<number, CallerCalendar>,
  contact: PlanInput['contact'],
): string {
  return JSON.stringify([
    segmentId,
    zone,
    callDays,
    callStart ?? null,
    [...callers].map(([step, c]) => [step, c.days, c.start ?? null]),
    contact.email ?? null,
    Boolean(contact.emailBounced),
    Boolean(contact.emailOptOut),
    contact.address ?? null,
    contact.preferredChannel ?? null,
    Boolean(contact.doNotContact),
  ]);
}

/** guessPlans computes each sale's plan ahead as for a new customer described by the sale itself. */
function guessPlans(ctx: ServiceContext, valid: ValidSale[], guesses: Guesses, now: Date): void {
  for (const s of valid) {
    const input = s.input;
    const { segment } = placeSale(guesses.segments, {
      source: input.source,
      totalAmount: input.total.amount,
      items: input.items,
    });
    const salesperson = input.salesperson ? guesses.staff.get(input.salesperson.email.toLowerCase()) : undefined;
    const zone = input.customer.timezone ?? ctx.settings.defaultTimezone;
    const callDays = salesperson?.workingDays ?? [1, 2, 3, 4, 5];
    const callStart = salesperson?.workStart ?? (input.salesperson ? '09:00' : undefined);
    // A salesperson not stored yet will be created with the default calendar.
    const sp = input.salesperson ? { id: '', workingDays: callDays, workStart: callStart ?? '09:00' } : null;
    const callers = callerCalendars(segment.plan, sp, guesses.byRole);
    const contact = {
      email: s.norm.contact.email ?? null,
      emailBounced: false,
      emailOptOut: false,
      address: (input.customer.address as Address | undefined) ?? null,
      preferredChannel: input.customer.preferredChannel ?? null,
      doNotContact: false,
    };
    const planned = computePlan({
      soldAt: new Date(input.soldAt),
      now,
      zone,
      steps: segment.plan,
      sendWindow: segment.sendWindow,
      callDays,
      callStart,
      callerCalendars: callers,
      graceDays: ctx.settings.graceDays,
      contact,
    });
    s.guess = { key: planKey(segment.id, zone, callDays, callStart, callers, contact), planned };
  }
}

/** validate checks each read sale as POST /v1/sales would, turning failures into rejections on the right line. */
function validate(
  ctx: ServiceContext,
  batch: RawSale[],
  now: Date,
): { valid: ValidSale[]; rejections: repo.Rejection[] } {
  const valid: ValidSale[] = [];
  const rejections: repo.Rejection[] = [];
  for (const raw of batch) {
    if (raw.error) {
      rejections.push({ line: raw.line, field: raw.error.field, reason: raw.error.reason, externalId: raw.externalId });
      continue;
    }
    try {
      const input = parseSaleInput(raw.value, now);
      const norm = normalizeSaleCustomer(input, ctx.settings.defaultCountry, ctx.settings.secret);
      valid.push({ raw, input, norm, hash: hashSale(input) });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const reason = err.message.slice(err.field.length + 2);
      const where = raw.itemLines ? csvFieldOf(err.field, raw) : { field: err.field, line: raw.line };
      rejections.push({ line: where.line, field: where.field, reason, externalId: raw.externalId });
    }
  }
  return { valid, rejections };
}

/** commitBatch writes one batch and its progress in one transaction, retrying it on a lost race. */
async function commitBatch(
  ctx: ServiceContext,
  importId: string,
  expectedDone: number,
  prepared: { raw: RawSale[]; now: Date; valid: ValidSale[]; rejections: repo.Rejection[] },
  guesses: Guesses,
): Promise<repo.BatchProgress> {
  const { raw: batch, now, valid, rejections } = prepared;
  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.db.transaction().execute(async (trx) => {
        const progress = await repo.lockProgress(trx, importId);
        if (progress.salesDone !== expectedDone || progress.status !== 'running') throw new ImportInterrupted();
        const written = await writeSales(trx, ctx, valid, now, guesses);
        const allRejections = [...rejections, ...written.rejections];
        await repo.insertRejections(trx, importId, allRejections.map(storableRejection));
        const p: repo.BatchProgress = {
          sales: batch.length,
          rows: batch.reduce((n, s) => n + s.rows, 0),
          lastLine: batch[batch.length - 1].lastLine,
          imported: written.imported,
          duplicates: written.duplicates,
          rejected: allRejections.length,
        };
        await repo.advanceProgress(trx, importId, p, now);
        return p;
      });
    } catch (err) {
      // A new referral code that collided, or a sale or customer stored concurrently by the API: do the batch again.
      if (attempt < 5 && (isUniqueViolation(err) || (err as Error).message === RACE)) continue;
      throw err;
    }
  }
}

const RACE = 'import batch lost a race with a concurrent write';

// A rejection quotes what the row held (its id, a value in the reason), which may be what made the row unstorable.
function storableRejection(r: repo.Rejection): repo.Rejection {
  return {
    ...r,
    field: storableText(r.field),
    reason: storableText(r.reason),
    externalId: r.externalId == null ? r.externalId : storableText(r.externalId),
  };
}

/** CustomerState is a customer as the batch sees it: stored or new, with the changes this batch makes. */
interface CustomerState extends repo.CustomerRow {
  isNew: boolean;
  contactCorrections: ContactCorrections;
  emailOptOut: boolean;
  doNotContact: boolean;
  activeRun: {
    id: string;
    touches: { id: string; step: number; channel: string; dueAt: Date; status: string }[];
    steps: PlanStep[];
  } | null;
  /** What a phone-only match of this batch said differently about the person, to record with its sale. */
  pendingDuplicate: Record<string, unknown> | null;
  hasLaterYearRun: boolean;
  endLaterYear: boolean;
  order: number;
}

/**
 * CustomerIndex holds the batch's customers, stored and new, by every key a sale can find them by; matchCustomer
 * (domain/identity.ts) then picks among a sale's candidates exactly as the API's single path does.
 */
class CustomerIndex {
  private byKey = new Map<string, Set<CustomerState>>();

  candidates(id: SaleIdentity): CustomerState[] {
    const keys = [
      id.externalId ? `x\u0000${id.source}\u0000${id.externalId}` : null,
      id.emailKey ? `e\u0000${id.emailKey}` : null,
      id.phoneKey ? `p\u0000${id.phoneKey}` : null,
      id.correctedEmail ? `c\u0000${id.correctedEmail}` : null,
      id.correctedPhone ? `c\u0000${id.correctedPhone}` : null,
    ];
    const found = new Set<CustomerState>();
    for (const k of keys) if (k) for (const c of this.byKey.get(k) ?? []) found.add(c);
    return [...found].sort((a, b) => a.order - b.order);
  }

  private keysOf(c: CustomerState): string[] {
    const email = emailKey(c.email);
    const phone = phoneKeyOf(c.phone);
    return [
      c.externalId ? `x\u0000${c.source}\u0000${c.externalId}` : null,
      email ? `e\u0000${email}` : null,
      phone ? `p\u0000${phone}` : null,
      c.contactCorrections.email ? `c\u0000${c.contactCorrections.email}` : null,
      c.contactCorrections.phone ? `c\u0000${c.contactCorrections.phone}` : null,
    ].filter((k): k is string => k !== null);
  }

  private indexed = new Map<CustomerState, string[]>();

  /** add indexes a customer, or indexes them again under their keys of now after a change. */
  add(c: CustomerState): void {
    for (const k of this.indexed.get(c) ?? []) this.byKey.get(k)?.delete(c);
    const keys = this.keysOf(c);
    this.indexed.set(c, keys);
    for (const k of keys) {
      let set = this.byKey.get(k);
      if (!set) this.byKey.set(k, (set = new Set()));
      set.add(c);
    }
  }
}

function dedupe<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/**
 * writeSales imports validated sales in order within a transaction: duplicates and conflicting re-uses of an id
 * are set aside, then customers, sales, items, plan runs, touches and events are written in bulk.
 */
async function writeSales(
  trx: Database,
  ctx: ServiceContext,
  sales: ValidSale[],
  now: Date,
  guesses: Guesses,
): Promise<{ imported: number; duplicates: number; rejections: repo.Rejection[] }> {
  const rejections: repo.Rejection[] = [];
  let duplicates = 0;
  if (sales.length === 0) return { imported: 0, duplicates, rejections };

  // 1. Duplicates: within the batch, and against what is stored. The same body is a duplicate; another is a conflict.
  const keyOf = (s: SaleInput) => `${s.source}\u0000${s.externalId}`;
  const stored = new Map(
    (
      await repo.findSalesByKeys(
        trx,
        dedupe(sales.map((s) => keyOf(s.input))).map((k) => {
          const [source, externalId] = k.split('\u0000');
          return { source, externalId };
        }),
      )
    ).map((s) => [`${s.source}\u0000${s.externalId}`, s.requestHash]),
  );
  const firstLine = new Map<string, ValidSale>();
  const fresh: ValidSale[] = [];
  for (const s of sales) {
    const key = keyOf(s.input);
    const hash = stored.get(key) ?? firstLine.get(key)?.hash;
    if (hash === undefined) {
      firstLine.set(key, s);
      fresh.push(s);
    } else if (hash === s.hash) {
      duplicates++;
    } else {
      const earlier = firstLine.get(key);
      rejections.push({
        line: s.raw.line,
        field: s.raw.itemLines ? 'external_id' : 'externalId',
        reason: earlier
          ? `repeats the id of line ${earlier.raw.line} with a different sale`
          : 'was already recorded with a different sale',
        externalId: s.input.externalId,
      });
    }
  }
  if (fresh.length === 0) return { imported: 0, duplicates, rejections };

  // 2. What the batch refers to: segments, salespeople (created when unknown), callers by role, referrers, customers.
  const segments = await listSegments(trx);
  const segmentsJson = JSON.stringify(segments);
  // Guesses made with other segments than these are discarded; the next batch guesses with these.
  const guessesHold = segmentsJson === guesses.segmentsJson;
  guesses.segments = segments;
  guesses.segmentsJson = segmentsJson;
  const people = new Map<string, { email: string; name: string }>();
  for (const s of fresh)
    if (s.input.salesperson) people.set(s.input.salesperson.email.toLowerCase(), s.input.salesperson);
  const staff = await repo.findOrCreateSalespeople(trx, [...people.values()]);
  for (const [email, member] of staff) guesses.staff.set(email, member);
  const byRole = new Map<StaffRole, repo.StaffForPlan | null>();
  for (const seg of segments) {
    for (const step of seg.plan) {
      const role = step.channel === 'call' ? (step.assignee ?? 'salesperson') : 'salesperson';
      if (role !== 'salesperson' && !byRole.has(role)) byRole.set(role, await findFirstActiveByRole(trx, role));
    }
  }
  guesses.byRole = byRole;
  const referrers = await repo.findReferrers(
    trx,
    dedupe(fresh.flatMap((s) => (s.input.referralCode ? [s.input.referralCode.toUpperCase()] : []))),
  );
  const matched = await repo.findCustomersForSales(trx, {
    keys: dedupe(
      fresh.flatMap((s) =>
        s.input.customer.externalId ? [`${s.input.source}\u0000${s.input.customer.externalId}`] : [],
      ),
    ).map((k) => {
      const [source, externalId] = k.split('\u0000');
      return { source, externalId };
    }),
    emails: dedupe(fresh.flatMap((s) => s.norm.identity.emailKey ?? [])),
    phones: dedupe(fresh.flatMap((s) => s.norm.identity.phoneKey ?? [])),
    correctedEmails: dedupe(fresh.flatMap((s) => s.norm.identity.correctedEmail ?? [])),
    correctedPhones: dedupe(fresh.flatMap((s) => s.norm.identity.correctedPhone ?? [])),
  });
  const matchedIds = matched.map((c) => c.id);
  const activeRuns = await repo.findActiveFirstYearRuns(trx, matchedIds);
  const laterYear = await repo.findCustomersWithActiveLaterYearRuns(trx, matchedIds);
  const index = new CustomerIndex();
  let order = 0;
  for (const c of matched) {
    const run = activeRuns.get(c.id);
    index.add({
      ...c,
      referralCode: '',
      isNew: false,
      activeRun: run ? { id: run.id, touches: run.touches, steps: run.plan } : null,
      pendingDuplicate: null,
      hasLaterYearRun: laterYear.has(c.id),
      endLaterYear: false,
      order: order++,
    });
  }

  // 3. Each sale in order, in memory: customer, segment, sale, and the plan when one starts.
  const touched = new Map<string, CustomerState>();
  const saleRows: repo.SaleRow[] = [];
  const itemRows: repo.ItemRow[] = [];
  const runRows: repo.RunRow[] = [];
  const touchRows: repo.TouchRow[] = [];
  const possibleDuplicates: { customerId: string; saleId: string; given: Record<string, unknown> }[] = [];
  for (const s of fresh) {
    const input = s.input;
    // The same placement as the API's, its warning (a misconfigured segment) in the answer too.
    const { segment, warning } = placeSale(segments, {
      source: input.source,
      totalAmount: input.total.amount,
      items: input.items,
    });
    const salesperson = input.salesperson ? (staff.get(input.salesperson.email.toLowerCase()) ?? null) : null;
    const referrer = input.referralCode ? referrers.get(input.referralCode.toUpperCase()) : undefined;
    const customer = applyCustomer(ctx.settings.secret, index, s, segment, referrer, order++);
    touched.set(customer.id, customer);
    const saleId = randomUUID();
    const soldAt = new Date(input.soldAt);
    let responseTouches: { id: string; step: number; channel: string; dueAt: Date; status: string }[];
    let warnings: SaleWarning[];
    if (customer.pendingDuplicate) {
      possibleDuplicates.push({ customerId: customer.id, saleId, given: customer.pendingDuplicate });
      customer.pendingDuplicate = null;
    }
    if (customer.activeRun) {
      responseTouches = customer.activeRun.touches;
      warnings = mailWarnings(contactPointsOf(customer), customer.activeRun.steps);
      if (warnings.length > 0) customer.needsCleanup = true;
    } else {
      const planned = planFor(ctx, {
        customer,
        segment,
        salesperson,
        byRole,
        saleId,
        soldAt,
        now,
        guess: guessesHold ? s.guess : undefined,
      });
      // A customer whose first anniversary is behind them is in the later-years program: the first-year plan is
      // recorded (its steps missed or due per the grace period) and complete.
      if (customer.hasLaterYearRun) customer.endLaterYear = true;
      customer.program = planned.program;
      customer.segmentId = segment.id;
      if (planned.needsCleanup) customer.needsCleanup = true;
      const runId = planned.runId;
      runRows.push({
        id: runId,
        customerId: customer.id,
        saleId,
        segmentId: segment.id,
        status: planned.runStatus,
        startedAt: soldAt,
      });
      touchRows.push(...planned.touches);
      customer.activeRun =
        planned.runStatus === 'completed' ? null : { id: runId, touches: planned.touches, steps: segment.plan };
      responseTouches = planned.touches;
      warnings = planned.warnings;
    }
    const response: SaleResponse = saleAnswer({
      saleId,
      customerId: customer.id,
      segment,
      touches: responseTouches,
      warnings: [...(warning ? [warning] : []), ...warnings],
    });
    saleRows.push({
      id: saleId,
      source: input.source,
      externalId: input.externalId,
      customerId: customer.id,
      salespersonId: salesperson?.id ?? null,
      segmentId: segment.id,
      soldAt,
      totalAmount: input.total.amount,
      currency: input.total.currency,
      referralCode: input.referralCode ?? null,
      referrerId: referrer && !referrer.erased && referrer.id !== customer.id ? referrer.id : null,
      requestHash: s.hash,
      response: JSON.stringify(response),
    });
    for (const i of input.items) {
      itemRows.push({
        saleId,
        sku: i.sku ?? null,
        name: i.name,
        category: i.category ?? null,
        quantity: i.quantity,
        unitPrice: i.unitPrice,
      });
    }
  }

  // 4. Writes, parents first.
  const states = [...touched.values()];
  await repo.insertCustomers(
    trx,
    states.filter((c) => c.isNew),
    now,
  );
  await repo.updateCustomers(
    trx,
    states.filter((c) => !c.isNew),
    now,
  );
  for (const c of states.filter((c) => c.endLaterYear)) {
    // A sale by a customer in the later-years program starts a fresh first year (recordSale does the same).
    await endActiveRuns(trx, c.id, 'later_year', 'completed', now, 'new_first_year_plan');
  }
  const inserted = await repo.insertSales(trx, saleRows, itemRows, now);
  if (inserted !== saleRows.length) throw new Error(RACE);
  await repo.insertRunsAndTouches(trx, runRows, touchRows, now);
  await repo.insertPossibleDuplicates(trx, possibleDuplicates, now);
  return { imported: saleRows.length, duplicates, rejections };
}

/**
 * applyCustomer finds the sale's customer by the identity rules (or makes a new one) and applies the sale's contact
 * details to them, as the API does (domain/identity.ts matchCustomer, domain/sale-rules.ts applySaleContact).
 */
function applyCustomer(
  secret: string,
  index: CustomerIndex,
  sale: ValidSale,
  segment: Segment,
  referrer: { id: string; erased: boolean } | undefined,
  order: number,
): CustomerState {
  const { input, norm } = sale;
  const c = norm.contact;
  const match = matchCustomer(index.candidates(norm.identity), norm.identity);
  if (!match) {
    const created: CustomerState = {
      id: randomUUID(),
      source: input.source,
      externalId: input.customer.externalId ?? null,
      firstName: c.firstName ?? null,
      lastName: c.lastName ?? null,
      email: c.email ?? null,
      emailStatus: 'ok',
      phone: c.phone ?? null,
      phoneDisplay: c.phoneDisplay ?? null,
      timezone: c.timezone ?? null,
      preferredChannel: c.preferredChannel ?? null,
      address: (c.address as Address | undefined) ?? null,
      needsCleanup: false,
      referralCode: newReferralCode(),
      referredBy: referrer?.id ?? null,
      segmentId: segment.id,
      program: 'first_year',
      isNew: true,
      emailOptOut: false,
      doNotContact: false,
      activeRun: null,
      hasLaterYearRun: false,
      endLaterYear: false,
      pendingDuplicate: null,
      order,
      contactCorrections: {},
    };
    index.add(created);
    return created;
  }
  const found = match.customer;
  const { change, possibleDuplicate } = applySaleContact(secret, match, c, {
    externalId: input.customer.externalId,
    referrerId: referrer?.id,
  });
  if (possibleDuplicate) {
    found.needsCleanup = true;
    found.pendingDuplicate = possibleDuplicate as Record<string, unknown>;
  }
  if (change.contactCorrections) found.contactCorrections = change.contactCorrections;
  if (change.emailStatus) found.emailStatus = change.emailStatus;
  if (change.firstName !== undefined) found.firstName = change.firstName;
  if (change.lastName !== undefined) found.lastName = change.lastName;
  if (change.email !== undefined) found.email = change.email;
  if (change.phone !== undefined) found.phone = change.phone;
  if (change.phoneDisplay !== undefined) found.phoneDisplay = change.phoneDisplay;
  if (change.timezone !== undefined) found.timezone = change.timezone;
  if (change.preferredChannel !== undefined) found.preferredChannel = change.preferredChannel;
  if (change.address !== undefined) found.address = change.address;
  if (change.externalId !== undefined) found.externalId = change.externalId;
  if (change.referredBy !== undefined) found.referredBy = change.referredBy;
  index.add(found);
  return found;
}

/**
 * planFor computes a sale's first-year plan with planFirstYear (domain/sale-rules.ts), as the API does; the plan
 * computed ahead (a guess) is reused when its inputs held.
 */
function planFor(
  ctx: ServiceContext,
  p: {
    customer: CustomerState;
    segment: Segment;
    salesperson: repo.StaffForPlan | null;
    byRole: Map<StaffRole, repo.StaffForPlan | null>;
    saleId: string;
    soldAt: Date;
    now: Date;
    guess?: { key: string; planned: PlannedTouch[] };
  },
): Omit<PlanOfSale, 'touches'> & { runId: string; touches: repo.TouchRow[] } {
  const { customer, segment, salesperson } = p;
  const runId = randomUUID();
  const zone = customer.timezone ?? ctx.settings.defaultTimezone;
  const contact = contactPointsOf(customer);
  const callers = callerCalendars(segment.plan, salesperson, p.byRole);
  const key = planKey(
    segment.id,
    zone,
    salesperson?.workingDays ?? [1, 2, 3, 4, 5],
    salesperson?.workStart,
    callers,
    contact,
  );
  const planned = planFirstYear({
    soldAt: p.soldAt,
    now: p.now,
    zone,
    segment,
    salesperson,
    byRole: p.byRole,
    contact,
    graceDays: ctx.settings.graceDays,
    newId: randomUUID,
    computed: p.guess && p.guess.key === key ? p.guess.planned : undefined,
  });
  return {
    ...planned,
    runId,
    touches: planned.touches.map((t) => ({
      id: t.id,
      planRunId: runId,
      customerId: customer.id,
      step: t.step,
      channel: t.channel,
      senderRole: t.senderRole ?? null,
      assigneeId: t.assigneeId,
      dueAt: t.dueAt,
      status: t.status,
      reason: t.reason ?? null,
    })),
  };
}
