/**
 * Letters and their print batches: the rendered PDF of each letter touch, one open batch per business day (a partial
 * unique index enforces it), and marking a batch mailed. Only letters still queued or sent belong to a batch's
 * output, so a letter cancelled after it was filed is neither printed nor counted.
 */
import { sql } from 'kysely';
import type { Database } from '../database';
import { markBatchLettersSent } from './touch-lifecycle.repository';

/**
 * BatchStatus is `open` (letters still join it), `printing` (downloaded for printing, so closed to new letters) or
 * `mailed` (its letters are sent).
 */
export type BatchStatus = 'open' | 'printing' | 'mailed';

/** LetterBatch is one print batch of a business day. */
export interface LetterBatch {
  id: string;
  /** The business day, YYYY-MM-DD in the business's time zone. */
  businessDate: string;
  /** 1 for the day's first batch; a batch opened after one was downloaded or mailed the same day gets the next number. */
  seq: number;
  status: BatchStatus;
  paper: 'A4' | 'Letter';
  letterCount: number;
  createdAt: Date;
  /** When it was first downloaded for printing, and so closed to new letters. */
  closedAt: Date | null;
  mailedAt: Date | null;
}

/** BatchLetter is one letter of a batch, with what was printed on its envelope window. */
export interface BatchLetter {
  touchId: string;
  customerId: string;
  firstName: string | null;
  lastName: string | null;
  step: number;
  status: string;
  /** What was rendered (subject, recipient, sender...), or null once erased. */
  content: unknown;
}

// Only letters still due to go out (queued) or gone (sent) are part of a batch's output.
const IN_BATCH = ['queued', 'sent'];

// The date column is read as text (pg would turn a date into a Date at local midnight) and compared as a date.
function asDate(isoDate: string) {
  return sql<Date>`${isoDate}::date`;
}

function batchColumns() {
  return [
    'b.id',
    sql<string>`b.business_date::text`.as('businessDate'),
    'b.seq',
    'b.status',
    'b.paper',
    'b.createdAt',
    'b.closedAt',
    'b.mailedAt',
    sql<number>`(select count(*)::int from touches t where t.letter_batch_id = b.id and t.status in ('queued', 'sent'))`.as(
      'letterCount',
    ),
  ] as const;
}

function toBatch(row: {
  id: string;
  businessDate: string;
  seq: number;
  status: string;
  paper: string;
  createdAt: Date;
  closedAt: Date | null;
  mailedAt: Date | null;
  letterCount: number;
}): LetterBatch {
  return { ...row, status: row.status as BatchStatus, paper: row.paper as LetterBatch['paper'] };
}

/** findLetterBatchOfTouch returns the batch a touch was filed into, or null. */
export async function findLetterBatchOfTouch(
  db: Database,
  touchId: string,
): Promise<{ id: string; businessDate: string; seq: number } | null> {
  const row = await db
    .selectFrom('touches as t')
    .innerJoin('letterBatches as b', 'b.id', 't.letterBatchId')
    .select(['b.id', sql<string>`b.business_date::text`.as('businessDate'), 'b.seq'])
    .where('t.id', '=', touchId)
    .executeTakeFirst();
  return row ?? null;
}

/**
 * closeBatchForPrinting closes an open batch that holds letters to new ones, as it is downloaded. Run in a
 * transaction: the batch row is locked first, which waits for letters being filed into it (they hold a share lock),
 * so the count sees them, and letters filed later find the batch closed and open the day's next one. What is then
 * printed is all the batch holds. An empty batch stays open (there is nothing to print); an unknown one is ignored.
 */
export async function closeBatchForPrinting(trx: Database, batchId: string, now: Date): Promise<void> {
  const locked = await trx
    .selectFrom('letterBatches')
    .select('status')
    .where('id', '=', batchId)
    .forUpdate()
    .executeTakeFirst();
  if (locked?.status !== 'open') return;
  await sql`
    update letter_batches set status = 'printing', closed_at = ${now}
    where id = ${batchId} and exists (select 1 from touches where letter_batch_id = ${batchId} and status in ('queued', 'sent'))`.execute(
    trx,
  );
}

/**
 * lockOpenBatch returns the open batch of a business day and locks it until the transaction ends, so marking it
 * mailed waits for a letter being filed (and sees it), or the letter sees the batch closed; null when none is open.
 * A share lock: letters filed at once do not wait for each other, only marking the batch mailed (an update) waits.
 */
export async function lockOpenBatch(
  trx: Database,
  businessDate: string,
  paper: 'A4' | 'Letter',
): Promise<{ id: string; seq: number } | null> {
  const row = await trx
    .selectFrom('letterBatches')
    .select(['id', 'seq'])
    .where('businessDate', '=', asDate(businessDate))
    .where('paper', '=', paper)
    .where('status', '=', 'open')
    .forShare()
    .executeTakeFirst();
  return row ?? null;
}

/**
 * insertOpenBatch opens the next batch of a business day. Two workers racing to open one make one of them fail
 * with a unique violation (one open batch per day, one number per batch); the caller tries again.
 */
export async function insertOpenBatch(
  trx: Database,
  businessDate: string,
  paper: 'A4' | 'Letter',
  now: Date,
): Promise<{ id: string; seq: number }> {
  return trx
    .insertInto('letterBatches')
    .values((eb) => ({
      businessDate,
      paper,
      createdAt: now,
      seq: eb
        .selectFrom('letterBatches')
        .select(sql<number>`coalesce(max(seq), 0) + 1`.as('next'))
        .where('businessDate', '=', asDate(businessDate)),
    }))
    .returning(['id', 'seq'])
    .executeTakeFirstOrThrow();
}

/** listLetterBatches returns batches newest day first, optionally of one status or day. */
export async function listLetterBatches(
  db: Database,
  f: { status?: BatchStatus; businessDate?: string; limit: number },
): Promise<LetterBatch[]> {
  let q = db.selectFrom('letterBatches as b').select(batchColumns());
  if (f.status) q = q.where('b.status', '=', f.status);
  if (f.businessDate) q = q.where('b.businessDate', '=', asDate(f.businessDate));
  const rows = await q.orderBy('b.businessDate', 'desc').orderBy('b.seq', 'desc').limit(f.limit).execute();
  return rows.map(toBatch);
}

/** findLetterBatch returns one batch, or null. */
export async function findLetterBatch(db: Database, id: string): Promise<LetterBatch | null> {
  const row = await db
    .selectFrom('letterBatches as b')
    .select(batchColumns())
    .where('b.id', '=', id)
    .executeTakeFirst();
  return row ? toBatch(row) : null;
}

/** listBatchLetters returns the letters of a batch in print order (by customer name, then touch id). */
export async function listBatchLetters(db: Database, batchId: string): Promise<BatchLetter[]> {
  // The same order as listBatchPdfs, so page n of the merged PDF and row n of the CSV are the same letter.
  return db
    .selectFrom('touches as t')
    .innerJoin('customers as c', 'c.id', 't.customerId')
    .select(['t.id as touchId', 't.customerId', 'c.firstName', 'c.lastName', 't.step', 't.status', 't.content'])
    .where('t.letterBatchId', '=', batchId)
    .where('t.status', 'in', IN_BATCH)
    .orderBy(sql`lower(c.last_name) asc nulls last`)
    .orderBy(sql`lower(c.first_name) asc nulls last`)
    .orderBy('t.id')
    .execute();
}

/** listBatchPdfs returns the stored PDFs of a batch's letters in print order, skipping erased ones. */
export async function listBatchPdfs(
  db: Database,
  batchId: string,
): Promise<Array<{ touchId: string; pdf: Uint8Array }>> {
  const rows = await db
    .selectFrom('touches as t')
    .innerJoin('customers as c', 'c.id', 't.customerId')
    .select(['t.id as touchId', 't.letterPdf'])
    .where('t.letterBatchId', '=', batchId)
    .where('t.status', 'in', IN_BATCH)
    .where('t.letterPdf', 'is not', null)
    .orderBy(sql`lower(c.last_name) asc nulls last`)
    .orderBy(sql`lower(c.first_name) asc nulls last`)
    .orderBy('t.id')
    .execute();
  return rows.map((r) => ({ touchId: r.touchId, pdf: new Uint8Array(r.letterPdf!) }));
}

/**
 * markBatchMailed marks an open or printing batch mailed and its queued letters sent, each with an event; it returns
 * the ids of the letters it marked, or null when the batch was already mailed (nothing changes).
 */
export async function markBatchMailed(
  trx: Database,
  batchId: string,
  now: Date,
  actor: string,
  reason: string,
): Promise<string[] | null> {
  const batch = await trx
    .updateTable('letterBatches')
    .set({ status: 'mailed', mailedAt: now })
    .where('id', '=', batchId)
    .where('status', 'in', ['open', 'printing'])
    .returning('id')
    .executeTakeFirst();
  if (!batch) return null;
  return markBatchLettersSent(trx, batchId, now, actor, reason);
}
