/**
 * Imports: the stored upload, progress and rejected rows, and the batched writes of a batch of imported sales
 * (customers, sales, items, plan runs, touches and their first events) as multi-row INSERT ... SELECT FROM unnest(),
 * one statement per table however many rows, so a batch of thousands of sales costs a handful of round trips.
 */
import { sql } from 'kysely';
import type { Database } from '../database';
import type { Address, PlanStep } from '../../domain/types';
import type { Customer } from './customer.repository';
import { plannedEventsSql } from './touch-lifecycle.repository';

/** ImportStatus is the life cycle of an import. */
export type ImportStatus = 'uploading' | 'queued' | 'running' | 'completed' | 'failed';

/** ImportRecord is an import with its progress counts. */
export interface ImportRecord {
  id: string;
  format: 'csv' | 'ndjson';
  options: Record<string, unknown>;
  status: ImportStatus;
  fileName: string | null;
  bytes: number;
  chunks: number;
  /** Lines in the uploaded file (counted as it arrived); null while uploading and for older imports. */
  lines: number | null;
  salesDone: number;
  rowsRead: number;
  lastLine: number;
  imported: number;
  duplicates: number;
  rejected: number;
  error: string | null;
  /** Who uploaded it: `key:<api key id>`, or the command line. */
  createdBy: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** Rejection is one rejected sale: its line, the field at fault and why. */
export interface Rejection {
  line: number;
  field: string;
  reason: string;
  externalId?: string | null;
}

function toImport(row: Record<string, unknown>): ImportRecord {
  return {
    id: row.id as string,
    format: row.format as ImportRecord['format'],
    options: (row.options ?? {}) as Record<string, unknown>,
    status: row.status as ImportStatus,
    fileName: (row.fileName as string | null) ?? null,
    bytes: Number(row.bytes),
    chunks: row.chunks as number,
    lines: (row.lines as number | null) ?? null,
    salesDone: row.salesDone as number,
    rowsRead: row.rowsRead as number,
    lastLine: row.lastLine as number,
    imported: row.imported as number,
    duplicates: row.duplicates as number,
    rejected: row.rejected as number,
    error: (row.error as string | null) ?? null,
    createdBy: (row.createdBy as string | null) ?? null,
    createdAt: row.createdAt as Date,
    startedAt: (row.startedAt as Date | null) ?? null,
    finishedAt: (row.finishedAt as Date | null) ?? null,
  };
}

/** createImport records a new import, still uploading. */
export async function createImport(
  db: Database,
  i: {
    format: ImportRecord['format'];
    options: Record<string, unknown>;
    fileName: string | null;
    createdBy: string;
    at: Date;
  },
): Promise<ImportRecord> {
  const row = await db
    .insertInto('imports')
    .values({
      format: i.format,
      options: JSON.stringify(i.options),
      fileName: i.fileName,
      createdBy: i.createdBy,
      createdAt: i.at,
      updatedAt: i.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toImport(row);
}

/**
 * appendChunk stores the next chunk of an upload and the bytes received so far (the upload quota counts them, and
 * the sweeper sees the upload is alive).
 */
export async function appendChunk(
  db: Database,
  importId: string,
  seq: number,
  data: Buffer,
  bytesSoFar: number,
  at: Date,
): Promise<void> {
  await db.insertInto('importChunks').values({ importId, seq, data }).execute();
  await db
    .updateTable('imports')
    .set({ bytes: String(bytesSoFar), updatedAt: at })
    .where('id', '=', importId)
    .execute();
}

/** sumUploadedBytes adds up the bytes of the imports `createdBy` started since `since`, except `exceptId`. */
export async function sumUploadedBytes(
  db: Database,
  createdBy: string,
  since: Date,
  exceptId: string | null,
): Promise<number> {
  let q = db
    .selectFrom('imports')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<string>('bytes'), sql<string>`0`).as('bytes'))
    .where('createdBy', '=', createdBy)
    .where('createdAt', '>', since);
  if (exceptId) q = q.where('id', '<>', exceptId);
  const row = await q.executeTakeFirstOrThrow();
  return Number(row.bytes);
}

/** RejectionText is the free text of one rejected row. */
export interface RejectionText {
  importId: string;
  line: number;
  reason: string;
  externalId: string | null;
}

/** findRejectionsQuoting returns the rejected rows whose reason or external id mentions one of `needles`. */
export async function findRejectionsQuoting(db: Database, needles: string[]): Promise<RejectionText[]> {
  if (needles.length === 0) return [];
  const patterns = needles.map((n) => `%${n.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  const rows = await sql<RejectionText>`
    select import_id as "importId", line, reason, external_id as "externalId" from import_rejections
    where reason ilike any(${patterns}) or external_id ilike any(${patterns})`.execute(db);
  return rows.rows;
}

/** updateRejection rewrites the free text of one rejected row. */
export async function updateRejection(db: Database, r: RejectionText): Promise<void> {
  await db
    .updateTable('importRejections')
    .set({ reason: r.reason, externalId: r.externalId })
    .where('importId', '=', r.importId)
    .where('line', '=', r.line)
    .execute();
}

/** StoredChunk is one stored piece of an upload. */
export interface StoredChunk {
  importId: string;
  seq: number;
  data: Buffer;
}

/**
 * findChunksQuoting returns the stored chunks (of imports not finished: a finished one's are deleted) holding one of
 * `needles` byte for byte (the caller passes the case variants it wants found), and both chunks of every pair of
 * neighbours across whose boundary one is split; ordered by import and seq.
 */
export async function findChunksQuoting(db: Database, needles: string[]): Promise<StoredChunk[]> {
  if (needles.length === 0) return [];
  // The bytes either side of a boundary that a needle split there can cover: one less than the longest needle.
  const reach = Math.max(...needles.map((n) => Buffer.byteLength(n, 'utf8'))) - 1;
  const rows = await sql<StoredChunk>`
    with needle as (select convert_to(n, 'UTF8') as bytes from unnest(${needles}::text[]) n),
    whole as (
      select c.import_id, c.seq from import_chunks c
      where exists (select 1 from needle where position(needle.bytes in c.data) > 0)
    ),
    split as (
      select a.import_id, a.seq as first, b.seq as second from import_chunks a
      join import_chunks b on b.import_id = a.import_id and b.seq = a.seq + 1
      where ${reach} > 0 and exists (select 1 from needle where position(needle.bytes in
        substring(a.data from greatest(length(a.data) - ${reach} + 1, 1)) || substring(b.data from 1 for ${reach})) > 0)
    ),
    hit as (
      select import_id, seq from whole
      union select import_id, first from split
      union select import_id, second from split
    )
    select c.import_id as "importId", c.seq, c.data from import_chunks c
    join hit on hit.import_id = c.import_id and hit.seq = c.seq
    order by c.import_id, c.seq`.execute(db);
  return rows.rows;
}

/** replaceChunk stores new bytes for one chunk (of the same length). */
export async function replaceChunk(db: Database, c: StoredChunk): Promise<void> {
  await db
    .updateTable('importChunks')
    .set({ data: c.data })
    .where('importId', '=', c.importId)
    .where('seq', '=', c.seq)
    .execute();
}

/** listStaleUploads returns the ids of uploads that have received nothing since `before`. */
export async function listStaleUploads(db: Database, before: Date, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('imports')
    .select('id')
    .where('status', '=', 'uploading')
    .where('updatedAt', '<', before)
    .orderBy('updatedAt')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/** finishUpload marks an upload complete (queued for processing) with its size and its number of lines. */
export async function finishUpload(
  db: Database,
  importId: string,
  bytes: number,
  chunks: number,
  at: Date,
  lines: number | null = null,
): Promise<void> {
  await db
    .updateTable('imports')
    .set({ status: 'queued', bytes: String(bytes), chunks, lines, updatedAt: at })
    .where('id', '=', importId)
    .execute();
}

/** readChunk returns one stored chunk of an upload, or null past the end. */
export async function readChunk(db: Database, importId: string, seq: number): Promise<Buffer | null> {
  const row = await db
    .selectFrom('importChunks')
    .select('data')
    .where('importId', '=', importId)
    .where('seq', '=', seq)
    .executeTakeFirst();
  return row?.data ?? null;
}

/** deleteImport removes an import and its chunks (an upload refused before it was complete). */
export async function deleteImport(db: Database, id: string): Promise<void> {
  await db.deleteFrom('imports').where('id', '=', id).execute();
}

/** listImports returns imports newest first, `limit` of them, those created before `before` when given. */
export async function listImports(db: Database, limit: number, before?: Date): Promise<ImportRecord[]> {
  let q = db.selectFrom('imports').selectAll().orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(limit);
  if (before) q = q.where('createdAt', '<', before);
  return (await q.execute()).map(toImport);
}

/** findImport returns one import, or null. */
export async function findImport(db: Database, id: string): Promise<ImportRecord | null> {
  const row = await db.selectFrom('imports').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toImport(row) : null;
}

/**
 * listStalledImports returns the ids of imports queued or running that have not moved since `before` (an import that
 * runs commits its progress every batch, the command line's included).
 */
export async function listStalledImports(db: Database, before: Date): Promise<string[]> {
  const rows = await db
    .selectFrom('imports')
    .select('id')
    .where('status', 'in', ['queued', 'running'])
    .where('updatedAt', '<', before)
    .orderBy('createdAt')
    .execute();
  return rows.map((r) => r.id);
}

/** markRunning moves a queued (or interrupted) import to running. */
export async function markRunning(db: Database, id: string, at: Date): Promise<void> {
  await db
    .updateTable('imports')
    .set((eb) => ({ status: 'running', startedAt: eb.fn.coalesce('startedAt', sql<Date>`${at}`), updatedAt: at }))
    .where('id', '=', id)
    .where('status', 'in', ['queued', 'running'])
    .execute();
}

/** lockProgress locks an import's row for one batch and returns how many sales are done. */
export async function lockProgress(db: Database, id: string): Promise<{ salesDone: number; status: ImportStatus }> {
  const row = await db
    .selectFrom('imports')
    .select(['salesDone', 'status'])
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirstOrThrow();
  return { salesDone: row.salesDone, status: row.status as ImportStatus };
}

/** BatchProgress is what one committed batch adds to an import's counts. */
export interface BatchProgress {
  sales: number;
  rows: number;
  lastLine: number;
  imported: number;
  duplicates: number;
  rejected: number;
}

/** advanceProgress adds a batch's counts; run in the batch's transaction so progress and rows commit together. */
export async function advanceProgress(db: Database, id: string, p: BatchProgress, at: Date): Promise<void> {
  await db
    .updateTable('imports')
    .set((eb) => ({
      salesDone: eb('salesDone', '+', p.sales),
      rowsRead: eb('rowsRead', '+', p.rows),
      lastLine: p.lastLine,
      imported: eb('imported', '+', p.imported),
      duplicates: eb('duplicates', '+', p.duplicates),
      rejected: eb('rejected', '+', p.rejected),
      updatedAt: at,
    }))
    .where('id', '=', id)
    .execute();
}

/** insertRejections records rejected sales; a line already recorded (a re-run batch) is kept once. */
export async function insertRejections(db: Database, importId: string, rejections: Rejection[]): Promise<void> {
  if (rejections.length === 0) return;
  await db
    .insertInto('importRejections')
    .values(
      rejections.map((r) => ({
        importId,
        line: r.line,
        field: r.field.slice(0, 200),
        reason: r.reason.slice(0, 1000),
        externalId: r.externalId?.slice(0, 200) ?? null,
      })),
    )
    .onConflict((oc) => oc.columns(['importId', 'line']).doNothing())
    .execute();
}

/** finishImport records the end of an import and drops its stored upload, which is no longer needed. */
export async function finishImport(
  db: Database,
  id: string,
  status: 'completed' | 'failed',
  error: string | null,
  at: Date,
): Promise<void> {
  // One statement: an import seen finished has no chunks left, and a crash in between cannot leave them behind (the
  // sweeper looks only at uploads still `uploading`). Called inside transactions too, so no transaction of its own.
  await sql`
    with dropped as (delete from import_chunks where import_id = ${id})
    update imports set status = ${status}, error = ${error}, finished_at = ${at}, updated_at = ${at}
    where id = ${id}`.execute(db);
}

/** listRejections returns the first `limit` rejected rows of an import, by line. */
export async function listRejections(db: Database, importId: string, limit: number): Promise<Rejection[]> {
  const rows = await db
    .selectFrom('importRejections')
    .select(['line', 'field', 'reason', 'externalId'])
    .where('importId', '=', importId)
    .orderBy('line')
    .limit(limit)
    .execute();
  return rows;
}

/**
 * analyzeImportTables refreshes the planner's statistics of the tables an import fills. Autovacuum does this too,
 * but late under load, and a plan made for an empty table (a hash join over a sequential scan) slows every batch.
 */
export async function analyzeImportTables(db: Database): Promise<void> {
  await sql`analyze customers, sales, plan_runs`.execute(db);
}

/**
 * vacuumWrittenTables vacuums every table an import wrote and refreshes its statistics, once it is done: straight after
 * a large import autovacuum has not analysed the new rows yet, and the planner, still seeing the old sizes, scans all
 * of touch_events for one customer's page (370-700 ms at 1,000,000 sales; 8 ms after ANALYZE); and until a vacuum sets
 * the visibility map, an index-only read (the dashboard's workload ahead) visits the table for every row (p95 440 ms
 * at 1,000,000 sales; 102 ms after VACUUM). Not in a transaction: VACUUM cannot run in one.
 */
export async function vacuumWrittenTables(db: Database): Promise<void> {
  await sql`vacuum (analyze) customers, sales, sale_items, plan_runs, touches, touch_events, staff`.execute(db);
}

// ---- batched sale writes ----------------------------------------------------------------------------------------

/** ExistingSale is a stored sale's key and body hash, for the duplicate check. */
export interface ExistingSale {
  source: string;
  externalId: string;
  requestHash: string;
}

/** findSalesByKeys returns the stored sales among (source, externalId) keys. */
export async function findSalesByKeys(
  db: Database,
  keys: { source: string; externalId: string }[],
): Promise<ExistingSale[]> {
  if (keys.length === 0) return [];
  const { rows } = await sql<{ source: string; external_id: string; request_hash: string }>`
    select s.source, s.external_id, s.request_hash
      from unnest(${keys.map((k) => k.source)}::text[], ${keys.map((k) => k.externalId)}::text[]) as k(source, external_id)
      cross join lateral (select source, external_id, request_hash from sales where source = k.source and external_id = k.external_id offset 0) s`.execute(
    db,
  );
  return rows.map((r) => ({
    source: r.source,
    externalId: r.external_id ?? (r as unknown as { externalId: string }).externalId,
    requestHash: r.request_hash ?? (r as unknown as { requestHash: string }).requestHash,
  }));
}

/** MatchedCustomer is a stored customer a sale may match, with what the import needs to update and plan for it. */
export type MatchedCustomer = Pick<
  Customer,
  | 'id'
  | 'source'
  | 'externalId'
  | 'firstName'
  | 'lastName'
  | 'email'
  | 'emailStatus'
  | 'phone'
  | 'phoneDisplay'
  | 'timezone'
  | 'preferredChannel'
  | 'address'
  | 'emailOptOut'
  | 'doNotContact'
  | 'needsCleanup'
  | 'referredBy'
  | 'segmentId'
  | 'program'
  | 'contactCorrections'
>;

/**
 * findCustomersForSales returns (locked) the live customers matching any of the keys, oldest first: by
 * (source, externalId), by email (case-insensitive) or by phone, the ways a sale finds its customer, and by the
 * digest of an email or phone the customer has since corrected (contact-corrections.ts).
 */
export async function findCustomersForSales(
  db: Database,
  m: {
    keys: { source: string; externalId: string }[];
    emails: string[];
    phones: string[];
    correctedEmails: string[];
    correctedPhones: string[];
  },
): Promise<MatchedCustomer[]> {
  if (m.keys.length + m.emails.length + m.phones.length === 0) return [];
  // One index lookup per key: LATERAL with OFFSET 0 (which the planner does not flatten) stays a nested loop of
  // index scans whatever the table's statistics say. A join it may hash, or an OR over the keys, would scan the whole
  // table for every batch, and statistics lag behind a table an import is filling.
  const ids = sql`
    select c.id from unnest(${m.keys.map((k) => k.source)}::text[], ${m.keys.map((k) => k.externalId)}::text[]) as k(source, external_id)
      cross join lateral (select id from customers where source = k.source and external_id = k.external_id offset 0) c
    union
    select c.id from unnest(${m.emails}::text[]) as e(email)
      cross join lateral (select id from customers where lower(email) = e.email offset 0) c
    union
    select c.id from unnest(${m.phones}::text[]) as p(phone)
      cross join lateral (select id from customers where phone = p.phone offset 0) c
    union
    select c.id from unnest(${m.correctedEmails}::text[]) as d(digest)
      cross join lateral (select id from customers where contact_corrections ? 'email' and contact_corrections ->> 'email' = d.digest offset 0) c
    union
    select c.id from unnest(${m.correctedPhones}::text[]) as d(digest)
      cross join lateral (select id from customers where contact_corrections ? 'phone' and contact_corrections ->> 'phone' = d.digest offset 0) c`;
  const rows = await db
    .selectFrom('customers')
    .select([
      'id',
      'source',
      'externalId',
      'firstName',
      'lastName',
      'email',
      'emailStatus',
      'phone',
      'phoneDisplay',
      'timezone',
      'preferredChannel',
      'address',
      'emailOptOut',
      'doNotContact',
      'needsCleanup',
      'referredBy',
      'segmentId',
      'program',
      'contactCorrections',
    ])
    .where('erasedAt', 'is', null)
    .where('id', '=', sql<string>`any(array(${ids}))`)
    .orderBy('createdAt')
    .orderBy('id')
    .forUpdate()
    .execute();
  return rows.map(
    (r) =>
      ({
        ...r,
        address: r.address as unknown as Address | null,
        contactCorrections: r.contactCorrections ?? {},
      }) as MatchedCustomer,
  );
}

/** RunTouch is a touch of a running plan, as a sale's answer lists it. */
export interface RunTouch {
  id: string;
  step: number;
  channel: string;
  dueAt: Date;
  status: string;
}

/** findActiveFirstYearRuns returns the running first-year plans of these customers with their touches. */
export async function findActiveFirstYearRuns(
  db: Database,
  customerIds: string[],
): Promise<Map<string, { id: string; touches: RunTouch[]; plan: PlanStep[] }>> {
  const result = new Map<string, { id: string; touches: RunTouch[]; plan: PlanStep[] }>();
  if (customerIds.length === 0) return result;
  const runs = await db
    .selectFrom('planRuns')
    .select(['id', 'customerId', 'plan'])
    .where('customerId', '=', sql<string>`any(${customerIds}::uuid[])`)
    .where('kind', '=', 'first_year')
    .where('status', '=', 'active')
    .execute();
  if (runs.length === 0) return result;
  const touches = await db
    .selectFrom('touches')
    .select(['id', 'planRunId', 'step', 'channel', 'dueAt', 'status'])
    .where('planRunId', '=', sql<string>`any(${runs.map((r) => r.id)}::uuid[])`)
    .orderBy('step')
    .execute();
  for (const r of runs)
    result.set(r.customerId, {
      id: r.id,
      touches: touches.filter((t) => t.planRunId === r.id),
      plan: r.plan as unknown as PlanStep[],
    });
  return result;
}

/** findCustomersWithActiveLaterYearRuns returns which of these customers have a later-years plan running. */
export async function findCustomersWithActiveLaterYearRuns(db: Database, customerIds: string[]): Promise<Set<string>> {
  if (customerIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('planRuns')
    .select('customerId')
    .where('customerId', '=', sql<string>`any(${customerIds}::uuid[])`)
    .where('kind', '=', 'later_year')
    .where('status', '=', 'active')
    .execute();
  return new Set(rows.map((r) => r.customerId));
}

/** findReferrers returns the customers owning these referral codes (upper-cased), by code. */
export async function findReferrers(
  db: Database,
  codes: string[],
): Promise<Map<string, { id: string; erased: boolean }>> {
  if (codes.length === 0) return new Map();
  const rows = await db
    .selectFrom('customers')
    .select(['id', 'referralCode', 'erasedAt'])
    .where('referralCode', '=', sql<string>`any(${codes}::text[])`)
    .execute();
  return new Map(rows.map((r) => [r.referralCode, { id: r.id, erased: r.erasedAt !== null }]));
}

/** StaffForPlan is what planning needs of a staff member. */
export interface StaffForPlan {
  id: string;
  email: string;
  workingDays: number[];
  workStart: string;
}

/** findOrCreateSalespeople returns the staff members with these emails, creating the unknown ones as salespeople. */
export async function findOrCreateSalespeople(
  db: Database,
  people: { email: string; name: string }[],
): Promise<Map<string, StaffForPlan>> {
  const result = new Map<string, StaffForPlan>();
  if (people.length === 0) return result;
  await sql`
    insert into staff (email, name, role, pending)
    select email, name, 'salesperson', true from unnest(${people.map((p) => p.email)}::text[], ${people.map((p) => p.name)}::text[]) as p(email, name)
    on conflict ((lower(email))) do nothing`.execute(db);
  const rows = await db
    .selectFrom('staff')
    .select(['id', 'email', 'workingDays', 'workStart'])
    .where(sql<string>`lower(email)`, '=', sql<string>`any(${people.map((p) => p.email.toLowerCase())}::text[])`)
    .execute();
  for (const r of rows) result.set(r.email.toLowerCase(), r);
  return result;
}

/** CustomerRow is a customer to insert, with its id chosen by the caller. */
export type CustomerRow = Omit<MatchedCustomer, 'emailOptOut' | 'doNotContact' | 'contactCorrections'> &
  Pick<Customer, 'referralCode'>;

/** CustomerUpdate is the final state of a matched customer, corrections included. */
export type CustomerUpdate = Omit<CustomerRow, 'referralCode' | 'source'> & Pick<Customer, 'contactCorrections'>;

const col = <T, V>(rows: T[], f: (r: T) => V): V[] => rows.map(f);
const json = (v: unknown): string | null => (v == null ? null : JSON.stringify(v));

/** insertCustomers stores new customers in one statement. */
export async function insertCustomers(db: Database, rows: CustomerRow[], at: Date): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    insert into customers (id, source, external_id, first_name, last_name, email, email_status, phone, phone_display, timezone,
                           preferred_channel, address, needs_cleanup, referral_code, referred_by, segment_id, program, created_at,
                           updated_at)
    select id, source, external_id, first_name, last_name, email, email_status, phone, phone_display, timezone, preferred_channel,
           address::jsonb, needs_cleanup, referral_code, referred_by, segment_id, program, ${at}, ${at}
      from unnest(${col(rows, (r) => r.id)}::uuid[], ${col(rows, (r) => r.source)}::text[], ${col(rows, (r) => r.externalId)}::text[],
                  ${col(rows, (r) => r.firstName)}::text[], ${col(rows, (r) => r.lastName)}::text[], ${col(rows, (r) => r.email)}::text[],
                  ${col(rows, (r) => r.emailStatus)}::text[], ${col(rows, (r) => r.phone)}::text[], ${col(rows, (r) => r.phoneDisplay)}::text[],
                  ${col(rows, (r) => r.timezone)}::text[], ${col(rows, (r) => r.preferredChannel)}::text[], ${col(rows, (r) => json(r.address))}::text[],
                  ${col(rows, (r) => r.needsCleanup)}::boolean[], ${col(rows, (r) => r.referralCode)}::text[],
                  ${col(rows, (r) => r.referredBy)}::uuid[], ${col(rows, (r) => r.segmentId)}::uuid[], ${col(rows, (r) => r.program)}::text[])
        as c(id, source, external_id, first_name, last_name, email, email_status, phone, phone_display, timezone, preferred_channel,
             address, needs_cleanup, referral_code, referred_by, segment_id, program)`.execute(db);
}

/** updateCustomers writes the final state of matched customers (contact data, flags, program) in one statement. */
export async function updateCustomers(db: Database, rows: CustomerUpdate[], at: Date): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    update customers c
       set external_id = v.external_id, first_name = v.first_name, last_name = v.last_name, email = v.email,
           email_status = v.email_status, phone = v.phone, phone_display = v.phone_display, timezone = v.timezone,
           preferred_channel = v.preferred_channel,
           address = v.address::jsonb, needs_cleanup = v.needs_cleanup, referred_by = v.referred_by, segment_id = v.segment_id,
           program = v.program, contact_corrections = v.contact_corrections::jsonb, updated_at = ${at}
      from unnest(${col(rows, (r) => r.id)}::uuid[], ${col(rows, (r) => r.externalId)}::text[], ${col(rows, (r) => r.firstName)}::text[],
                  ${col(rows, (r) => r.lastName)}::text[], ${col(rows, (r) => r.email)}::text[], ${col(rows, (r) => r.emailStatus)}::text[],
                  ${col(rows, (r) => r.phone)}::text[], ${col(rows, (r) => r.phoneDisplay)}::text[], ${col(rows, (r) => r.timezone)}::text[],
                  ${col(rows, (r) => r.preferredChannel)}::text[], ${col(rows, (r) => json(r.address))}::text[], ${col(rows, (r) => r.needsCleanup)}::boolean[],
                  ${col(rows, (r) => r.referredBy)}::uuid[], ${col(rows, (r) => r.segmentId)}::uuid[], ${col(rows, (r) => r.program)}::text[],
                  ${col(rows, (r) => json(r.contactCorrections))}::text[])
        as v(id, external_id, first_name, last_name, email, email_status, phone, phone_display, timezone, preferred_channel, address,
             needs_cleanup, referred_by, segment_id, program, contact_corrections)
     where c.id = v.id`.execute(db);
}

/** insertPossibleDuplicates keeps what phone-only matches' sales said differently about the person, for clean-up. */
export async function insertPossibleDuplicates(
  db: Database,
  rows: { customerId: string; saleId: string; given: Record<string, unknown> }[],
  at: Date,
): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    insert into possible_duplicates (customer_id, sale_id, matched_by, given, created_at)
    select customer_id, sale_id, 'phone', given::jsonb, ${at}
      from unnest(${col(rows, (r) => r.customerId)}::uuid[], ${col(rows, (r) => r.saleId)}::uuid[],
                  ${col(rows, (r) => JSON.stringify(r.given))}::text[]) as d(customer_id, sale_id, given)`.execute(db);
}

/** SaleRow is a sale to insert, with its id chosen by the caller and the answer a replay of it returns. */
export interface SaleRow {
  id: string;
  source: string;
  externalId: string;
  customerId: string;
  salespersonId: string | null;
  segmentId: string;
  soldAt: Date;
  totalAmount: string;
  currency: string;
  referralCode: string | null;
  referrerId: string | null;
  requestHash: string;
  response: string;
}

/** ItemRow is one item of a sale. */
export interface ItemRow {
  saleId: string;
  sku: string | null;
  name: string;
  category: string | null;
  quantity: number;
  unitPrice: string;
}

/**
 * insertSales stores sales and their items; a sale whose (source, externalId) was stored meanwhile is left out, and
 * the number stored is returned so the caller can tell.
 */
export async function insertSales(db: Database, rows: SaleRow[], items: ItemRow[], at: Date): Promise<number> {
  if (rows.length === 0) return 0;
  const { rows: inserted } = await sql<{ n: number }>`
    with ins as (
      insert into sales (id, source, external_id, customer_id, salesperson_id, segment_id, sold_at, total_amount, currency,
                         referral_code, referrer_id, request_hash, response, created_at)
      select id, source, external_id, customer_id, salesperson_id, segment_id, sold_at, total_amount, currency,
             referral_code, referrer_id, request_hash, response::jsonb, ${at}
        from unnest(${col(rows, (r) => r.id)}::uuid[], ${col(rows, (r) => r.source)}::text[], ${col(rows, (r) => r.externalId)}::text[],
                    ${col(rows, (r) => r.customerId)}::uuid[], ${col(rows, (r) => r.salespersonId)}::uuid[], ${col(rows, (r) => r.segmentId)}::uuid[],
                    ${col(rows, (r) => r.soldAt.toISOString())}::timestamptz[], ${col(rows, (r) => r.totalAmount)}::numeric[],
                    ${col(rows, (r) => r.currency)}::text[], ${col(rows, (r) => r.referralCode)}::text[], ${col(rows, (r) => r.referrerId)}::uuid[],
                    ${col(rows, (r) => r.requestHash)}::text[], ${col(rows, (r) => r.response)}::text[])
          as s(id, source, external_id, customer_id, salesperson_id, segment_id, sold_at, total_amount, currency,
               referral_code, referrer_id, request_hash, response)
      on conflict (source, external_id) do nothing
      returning 1)
    select count(*)::int as n from ins`.execute(db);
  const n = inserted[0].n;
  if (n !== rows.length) return n; // the caller rolls the batch back and retries; items would miss their sale
  await sql`
    insert into sale_items (sale_id, sku, name, category, quantity, unit_price)
    select * from unnest(${col(items, (i) => i.saleId)}::uuid[], ${col(items, (i) => i.sku)}::text[], ${col(items, (i) => i.name)}::text[],
                         ${col(items, (i) => i.category)}::text[], ${col(items, (i) => i.quantity)}::int[], ${col(items, (i) => i.unitPrice)}::numeric[])`.execute(
    db,
  );
  return n;
}

/** RunRow is a first-year plan run to insert; its plan is the segment's as it stands in this transaction. */
export interface RunRow {
  id: string;
  customerId: string;
  saleId: string;
  segmentId: string;
  status: 'active' | 'completed';
  startedAt: Date;
}

/** TouchRow is a planned touch to insert. */
export interface TouchRow {
  id: string;
  planRunId: string;
  customerId: string;
  step: number;
  channel: string;
  senderRole: string | null;
  assigneeId: string | null;
  dueAt: Date;
  status: string;
  reason: string | null;
}

/** insertRunsAndTouches stores plan runs, their touches and each touch's first event (at `at`). */
export async function insertRunsAndTouches(db: Database, runs: RunRow[], touches: TouchRow[], at: Date): Promise<void> {
  if (runs.length === 0) return;
  // The plan snapshot is copied from the segment row inside Postgres: the stored (compressed) value is reused as-is,
  // which is far cheaper than sending and parsing the same JSON for every run.
  await sql`
    insert into plan_runs (id, customer_id, sale_id, segment_id, kind, year, status, plan, started_at, created_at)
    select r.id, r.customer_id, r.sale_id, r.segment_id, 'first_year', 1, r.status, s.plan, r.started_at, ${at}
      from unnest(${col(runs, (r) => r.id)}::uuid[], ${col(runs, (r) => r.customerId)}::uuid[], ${col(runs, (r) => r.saleId)}::uuid[],
                  ${col(runs, (r) => r.segmentId)}::uuid[], ${col(runs, (r) => r.status)}::text[],
                  ${col(runs, (r) => r.startedAt.toISOString())}::timestamptz[])
        as r(id, customer_id, sale_id, segment_id, status, started_at)
      join segments s on s.id = r.segment_id`.execute(db);
  if (touches.length === 0) return;
  await sql`
    with t as (
      insert into touches (id, plan_run_id, customer_id, step, channel, sender_role, assignee_id, due_at, status, status_reason,
                           completed_at, created_at, updated_at)
      select id, plan_run_id, customer_id, step, channel, sender_role, assignee_id, due_at, status, reason,
             case when status = 'scheduled' then null else ${at}::timestamptz end, ${at}, ${at}
        from unnest(${col(touches, (t) => t.id)}::uuid[], ${col(touches, (t) => t.planRunId)}::uuid[], ${col(touches, (t) => t.customerId)}::uuid[],
                    ${col(touches, (t) => t.step)}::int[], ${col(touches, (t) => t.channel)}::text[], ${col(touches, (t) => t.senderRole)}::text[],
                    ${col(touches, (t) => t.assigneeId)}::uuid[], ${col(touches, (t) => t.dueAt.toISOString())}::timestamptz[],
                    ${col(touches, (t) => t.status)}::text[], ${col(touches, (t) => t.reason)}::text[])
          as t(id, plan_run_id, customer_id, step, channel, sender_role, assignee_id, due_at, status, reason)
      returning id, status, status_reason)
    ${plannedEventsSql('t', at)}`.execute(db);
}

/** CheckSummary is a fingerprint of the imported data, to compare two imports of one file. */
export interface CheckSummary {
  customers: number;
  sales: number;
  items: number;
  runs: number;
  touches: number;
  events: number;
  checksum: string;
}

/**
 * summariseData counts the rows an import writes (customers, sales, items, first-year runs, their touches and events)
 * and, unless told not to, hashes their business content (no generated ids or times), so two databases that
 * imported the same file can be compared. Every part is a grouped join (hash joins, linear in the rows).
 */
export async function summariseData(db: Database, o: { checksum?: boolean } = {}): Promise<CheckSummary> {
  const { rows } = await sql<Omit<CheckSummary, 'checksum'>>`
    select (select count(*)::int from customers) as customers,
           (select count(*)::int from sales) as sales,
           (select count(*)::int from sale_items) as items,
           (select count(*)::int from plan_runs where kind = 'first_year') as runs,
           (select count(*)::int from touches t join plan_runs r on r.id = t.plan_run_id where r.kind = 'first_year') as touches,
           (select count(*)::int from touch_events e join touches t on t.id = e.touch_id join plan_runs r on r.id = t.plan_run_id
             where r.kind = 'first_year') as events`.execute(db);
  if (o.checksum === false) return { ...rows[0], checksum: '' };
  const { rows: hash } = await sql<{ checksum: string }>`
    with runs as (
      select r.sale_id, r.status,
             string_agg(concat_ws(':', t.step, t.channel, t.due_at, t.status, t.status_reason), ';' order by t.step) as touches
        from plan_runs r left join touches t on t.plan_run_id = r.id
       where r.kind = 'first_year'
       group by r.id)
    select md5(coalesce(string_agg(concat_ws(',', s.source, s.external_id, s.sold_at, s.total_amount, s.request_hash, c.source,
                                             c.external_id, c.email, c.program, c.needs_cleanup, runs.status, runs.touches),
                                   '|' order by s.source, s.external_id), '')) as checksum
      from sales s join customers c on c.id = s.customer_id left join runs on runs.sale_id = s.id`.execute(db);
  return { ...rows[0], checksum: hash[0].checksum };
}
