/**
 * Reading an import file: NDJSON (one POST /v1/sales body a line) or CSV (the documented columns of docs/imports.md,
 * one item a row, consecutive rows of one sale grouped), turned into untrusted sale objects with their line numbers.
 * Streaming: a file is read chunk by chunk and never held whole in memory. Accounting formats of amounts and dates
 * are normalised here; everything else is checked by parseSaleInput, like a posted sale.
 */
import { StringDecoder } from 'node:string_decoder';
import { parse as parseCsv, type Info } from 'csv-parse';
import { DateTime } from 'luxon';
import { isValidZone } from '../domain/schedule';
import { MAX_SALE_ITEMS } from './sale-input';

/** ImportFormat is the kind of file uploaded. */
export type ImportFormat = 'csv' | 'ndjson';

/** DateOrder says how to read a slashed date such as 03/04/2025: day first (dmy) or month first (mdy). */
export type DateOrder = 'dmy' | 'mdy';

/** ImportOptions are the reading settings of one import (query parameters of POST /v1/imports). */
export interface ImportOptions {
  dateFormat: DateOrder;
  /** Source used when a CSV row has no `source` column value. */
  source?: string;
  /** Currency used when a CSV row has no `currency` value. */
  currency?: string;
  /** Zone of dates written without an offset when the row names no time zone. */
  defaultTimezone: string;
}

/** RawSale is one sale as read from the file, not yet validated, or the reason it could not be read. */
export interface RawSale {
  /** The line the sale starts on (1-based, header included). */
  line: number;
  /** The last line of the sale. */
  lastLine: number;
  /** How many data rows (CSV) or lines (NDJSON) it spans. */
  rows: number;
  value?: unknown;
  error?: { field: string; reason: string };
  externalId?: string;
  /** CSV only: the line of each item row, to report an item's error on its own line. */
  itemLines?: number[];
}

/** CSV_COLUMNS are the columns a CSV import may have, in the documented order. */
export const CSV_COLUMNS = [
  'external_id',
  'source',
  'sold_at',
  'total',
  'currency',
  'customer_external_id',
  'first_name',
  'last_name',
  'email',
  'phone',
  'timezone',
  'preferred_channel',
  'address_line1',
  'address_line2',
  'city',
  'region',
  'postal_code',
  'country',
  'salesperson_email',
  'salesperson_name',
  'sku',
  'item_name',
  'category',
  'quantity',
  'unit_price',
  'referral_code',
] as const;

/** CsvColumn is one documented CSV column. */
export type CsvColumn = (typeof CSV_COLUMNS)[number];

/** REQUIRED_CSV_COLUMNS must be in the header row. */
export const REQUIRED_CSV_COLUMNS: CsvColumn[] = [
  'external_id',
  'sold_at',
  'total',
  'first_name',
  'item_name',
  'unit_price',
];

/** ImportFileError is a problem with the file as a whole (a bad header); the import fails with its message. */
export class ImportFileError extends Error {}

/** FieldError is a row-level problem found while reading, naming the column or field. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

const CURRENCY_MARKS = /^(?:[A-Z]{3}|[A-Z]{1,2}\$|[$€£¥₹₩₪₫฿₱])\s*|\s*(?:[A-Z]{3}|[$€£¥])$/;

/**
 * parseAmount reads an amount as accounting exports write it ("1,299.00", "$1,299.00", "AUD 1299", "1 299.5") and
 * returns it with two decimals; a negative amount ("-12.00", "(12.00)", "12.00-") is refused.
 */
export function parseAmount(raw: string): string {
  let s = raw.trim();
  if (s === '') throw new FieldError('', 'is required');
  const bare = s.replace(CURRENCY_MARKS, '').replace(CURRENCY_MARKS, '').trim();
  if ([s, bare].some((v) => /^\(.*\)$/.test(v) || v.startsWith('-') || v.endsWith('-'))) {
    throw new FieldError('', `"${raw}" is negative; refunds and credit notes are not sales`);
  }
  s = bare;
  // Thousands separators: commas, spaces (also no-break) and apostrophes (Swiss style).
  s = s.replace(/(?<=\d)[,\s\u00a0\u202f'](?=\d{3}(\D|$))/g, '');
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(s);
  if (!m) throw new FieldError('', `"${raw}" is not an amount (use e.g. 1299.00, 1,299.00 or $1,299.00)`);
  return `${m[1].replace(/^0+(?=\d)/, '')}.${(m[2] ?? '').padEnd(2, '0')}`;
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;
const ISO_LOCAL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/;
const SLASHED = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[T ,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;

/**
 * parseSoldAt reads a sale date and returns an ISO 8601 instant with its offset. Accepted: ISO 8601 with an offset
 * or Z; "YYYY-MM-DD" or "YYYY-MM-DD HH:mm[:ss]" and slashed dates "DD/MM/YYYY [HH:mm]" (or MM/DD/YYYY with
 * order mdy) read in `zone`. A date without a time is taken as 12:00 local, so no zone shifts it to another day.
 */
export function parseSoldAt(raw: string, zone: string, order: DateOrder): string {
  const s = raw.trim();
  if (s === '') throw new FieldError('', 'is required');
  if (ISO_WITH_OFFSET.test(s)) {
    const dt = DateTime.fromISO(s.replace(' ', 'T'), { setZone: true });
    if (dt.isValid) return dt.toISO()!;
    throw new FieldError('', `"${raw}" is not a valid date`);
  }
  let parts: { year: number; month: number; day: number; hour: number; minute: number; second: number } | null = null;
  const iso = ISO_LOCAL.exec(s);
  const slashed = iso ? null : SLASHED.exec(s);
  if (iso) {
    parts = {
      year: +iso[1],
      month: +iso[2],
      day: +iso[3],
      hour: iso[4] ? +iso[4] : 12,
      minute: iso[5] ? +iso[5] : 0,
      second: iso[6] ? +iso[6] : 0,
    };
  } else if (slashed) {
    const [a, b] = [+slashed[1], +slashed[2]];
    const [day, month] = order === 'dmy' ? [a, b] : [b, a];
    parts = {
      year: +slashed[3],
      month,
      day,
      hour: slashed[4] ? +slashed[4] : 12,
      minute: slashed[5] ? +slashed[5] : 0,
      second: slashed[6] ? +slashed[6] : 0,
    };
  }
  if (!parts) {
    throw new FieldError(
      '',
      `"${raw}" is not a date in a known format (ISO 8601, YYYY-MM-DD, or ${order === 'dmy' ? 'DD/MM/YYYY' : 'MM/DD/YYYY'})`,
    );
  }
  const dt = DateTime.fromObject(parts, { zone });
  if (!dt.isValid)
    throw new FieldError('', `"${raw}" is not a valid date (${order === 'dmy' ? 'day/month/year' : 'month/day/year'})`);
  return dt.toISO()!;
}

/** MAX_LINE_BYTES is the longest NDJSON line or CSV record read (1 MiB): a longer one is rejected, never buffered. */
export const MAX_LINE_BYTES = 1024 * 1024;

/** A line of text, or `tooLong` when it passed MAX_LINE_BYTES (its text is dropped as it streams by). */
interface Line {
  line: number;
  text: string;
  tooLong?: boolean;
}

function tooLong(text: string): boolean {
  // Characters never outnumber bytes: the byte count is needed only near the limit.
  return text.length > MAX_LINE_BYTES / 4 && Buffer.byteLength(text) > MAX_LINE_BYTES;
}

/**
 * lines splits a byte stream into text lines with their 1-based numbers, decoding UTF-8 across chunk edges. A line
 * longer than MAX_LINE_BYTES is yielded as `tooLong` with no text, and what is kept of it meanwhile stays bounded.
 */
async function* lines(input: AsyncIterable<Buffer>): AsyncGenerator<Line> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let skipping = false;
  let n = 0;
  const line = (text: string): Line => {
    if (skipping || tooLong(text)) {
      skipping = false;
      return { line: ++n, text: '', tooLong: true };
    }
    return { line: ++n, text: text.endsWith('\r') ? text.slice(0, -1) : text };
  };
  for await (const chunk of input) {
    const text = carry + decoder.write(chunk);
    const parts = text.split('\n');
    carry = parts.pop()!;
    for (const part of parts) yield line(part);
    // Still inside a long line (no newline in this chunk), or one just became too long: keep none of it.
    if (skipping || tooLong(carry)) {
      skipping = true;
      carry = '';
    }
  }
  const rest = carry + decoder.end();
  if (rest !== '' || skipping) yield line(rest);
}

/** readNdjson yields one sale per non-empty line; a line that is not a JSON object is reported as such. */
async function* readNdjson(input: AsyncIterable<Buffer>): AsyncGenerator<RawSale> {
  let first = true;
  for await (const { line, text, tooLong } of lines(input)) {
    const body = first ? text.replace(/^\uFEFF/, '') : text;
    first = false;
    if (tooLong) {
      yield {
        line,
        lastLine: line,
        rows: 1,
        error: { field: 'line', reason: `is longer than ${MAX_LINE_BYTES} bytes` },
      };
      continue;
    }
    if (body.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (err) {
      yield {
        line,
        lastLine: line,
        rows: 1,
        error: { field: 'line', reason: `is not valid JSON (${(err as Error).message})` },
      };
      continue;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      yield { line, lastLine: line, rows: 1, error: { field: 'line', reason: 'is not a JSON object' } };
      continue;
    }
    const externalId =
      typeof (value as { externalId?: unknown }).externalId === 'string'
        ? (value as { externalId: string }).externalId
        : undefined;
    yield { line, lastLine: line, rows: 1, value, externalId };
  }
}

type CsvRow = Partial<Record<CsvColumn, string>>;

function checkHeader(header: string[]): string[] {
  const names = header.map((h) =>
    h
      .trim()
      .toLowerCase()
      .replace(/^\uFEFF/, ''),
  );
  const unknown = names.filter((n) => n !== '' && !(CSV_COLUMNS as readonly string[]).includes(n));
  if (unknown.length)
    throw new ImportFileError(`unknown CSV column(s): ${unknown.join(', ')} (see docs/imports.md for the columns)`);
  const missing = REQUIRED_CSV_COLUMNS.filter((c) => !names.includes(c));
  if (missing.length) throw new ImportFileError(`CSV header lacks required column(s): ${missing.join(', ')}`);
  const seen = new Set<string>();
  for (const n of names) {
    if (n && seen.has(n)) throw new ImportFileError(`CSV column ${n} appears twice`);
    seen.add(n);
  }
  return names;
}

function opt(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

/** compact drops empty fields, so a missing value reads "is required" rather than "Expected string". */
function compact<T>(value: T): T {
  if (Array.isArray(value)) return value.map(compact) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, compact(v)]),
    ) as T;
  }
  return value;
}

/** csvSale builds a sale body from the rows of one sale (the first row carries the sale and customer). */
function csvSale(rows: CsvRow[], options: ImportOptions): unknown {
  const r = rows[0];
  const zone = opt(r.timezone) && isValidZone(r.timezone!.trim()) ? r.timezone!.trim() : options.defaultTimezone;
  const wrap = <T>(column: CsvColumn, f: () => T): T => {
    try {
      return f();
    } catch (err) {
      if (err instanceof FieldError) throw new FieldError(column, err.reason);
      throw err;
    }
  };
  const lines = [opt(r.address_line1), opt(r.address_line2)].filter((l): l is string => Boolean(l));
  const hasAddress = lines.length > 0 || opt(r.city) || opt(r.postal_code);
  const spEmail = opt(r.salesperson_email);
  const quantityOf = (row: CsvRow): unknown => {
    const q = opt(row.quantity);
    if (q === undefined) return 1;
    return /^\d+$/.test(q) ? Number(q) : q;
  };
  const currency = opt(r.currency)?.toUpperCase() ?? options.currency;
  return {
    externalId: opt(r.external_id),
    source: opt(r.source) ?? options.source,
    soldAt: wrap('sold_at', () => parseSoldAt(r.sold_at ?? '', zone, options.dateFormat)),
    total: { amount: wrap('total', () => parseAmount(r.total ?? '')), currency },
    items: rows.map((row) => ({
      sku: opt(row.sku),
      name: opt(row.item_name),
      category: opt(row.category),
      quantity: quantityOf(row),
      unitPrice: wrap('unit_price', () => parseAmount(row.unit_price ?? '')),
    })),
    customer: {
      externalId: opt(r.customer_external_id),
      firstName: opt(r.first_name),
      lastName: opt(r.last_name),
      email: opt(r.email),
      phone: opt(r.phone),
      timezone: opt(r.timezone),
      preferredChannel: opt(r.preferred_channel)?.toLowerCase(),
      address: hasAddress
        ? {
            lines,
            city: opt(r.city),
            region: opt(r.region),
            postalCode: opt(r.postal_code),
            country: opt(r.country)?.toUpperCase(),
          }
        : undefined,
    },
    salesperson: spEmail ? { email: spEmail, name: opt(r.salesperson_name) ?? spEmail.split('@')[0] } : undefined,
    referralCode: opt(r.referral_code),
  };
}

/** CSV_FIELD_OF maps a sale field to the CSV column it came from, so errors name what the user wrote. */
const CSV_FIELD_OF: Record<string, CsvColumn> = {
  externalId: 'external_id',
  source: 'source',
  soldAt: 'sold_at',
  'total.amount': 'total',
  'total.currency': 'currency',
  total: 'total',
  'customer.externalId': 'customer_external_id',
  'customer.firstName': 'first_name',
  'customer.lastName': 'last_name',
  'customer.email': 'email',
  'customer.phone': 'phone',
  'customer.timezone': 'timezone',
  'customer.preferredChannel': 'preferred_channel',
  'customer.address': 'address_line1',
  'customer.address.lines': 'address_line1',
  'customer.address.lines.0': 'address_line1',
  'customer.address.lines.1': 'address_line2',
  'customer.address.city': 'city',
  'customer.address.region': 'region',
  'customer.address.postalCode': 'postal_code',
  'customer.address.country': 'country',
  'salesperson.email': 'salesperson_email',
  'salesperson.name': 'salesperson_name',
  'items.sku': 'sku',
  'items.name': 'item_name',
  'items.category': 'category',
  'items.quantity': 'quantity',
  'items.unitPrice': 'unit_price',
  referralCode: 'referral_code',
};

/**
 * csvFieldOf names the CSV column (and line) of an error found in a sale built from CSV rows: "items.2.unitPrice"
 * becomes unit_price on the third item's line.
 */
export function csvFieldOf(field: string, sale: RawSale): { field: string; line: number } {
  const item = /^items\.(\d+)\.(\w+)$/.exec(field);
  if (item) {
    const line = sale.itemLines?.[Number(item[1])] ?? sale.line;
    return { field: CSV_FIELD_OF[`items.${item[2]}`] ?? field, line };
  }
  return { field: CSV_FIELD_OF[field] ?? field, line: sale.line };
}

/**
 * readCsv yields one sale per group of consecutive rows sharing (source, external_id). A row with the wrong number
 * of columns or a broken quote is reported on its line; a bad header fails the whole file.
 */
async function* readCsv(input: AsyncIterable<Buffer>, options: ImportOptions): AsyncGenerator<RawSale> {
  const parser = parseCsv({
    bom: true,
    columns: checkHeader,
    skip_empty_lines: true,
    skip_records_with_error: true,
    info: true,
    relax_quotes: false,
    // A record is never buffered past this: an unclosed quote would otherwise read the rest of the file into one.
    max_record_size: MAX_LINE_BYTES,
  });
  const skipped: RawSale[] = [];
  parser.on('skip', (err: Error & { lines?: number; code?: string }) => {
    const line = err.lines ?? 0;
    if (err.code === 'CSV_MAX_RECORD_SIZE') {
      // Where such a record ends cannot be known (a quote left open), so nothing after it can be read reliably.
      parser.destroy(
        new ImportFileError(
          `line ${line}: a CSV record is longer than ${MAX_LINE_BYTES} bytes (a quote left open?); ` +
            'the rows before it were read, nothing after it',
        ),
      );
      return;
    }
    skipped.push({
      line,
      lastLine: line,
      rows: 1,
      error: { field: 'line', reason: `is not a valid CSV row (${err.message})` },
    });
  });
  // Feed the parser from the stored chunks, respecting its backpressure.
  const feeding = (async () => {
    try {
      for await (const chunk of input) {
        if (parser.destroyed) return; // a record too long ended the file
        if (!parser.write(chunk))
          await new Promise<void>((resolve) => {
            parser.once('drain', resolve);
            parser.once('close', resolve);
          });
      }
      parser.end();
    } catch (err) {
      parser.destroy(err as Error);
    }
  })();

  // `extra` counts the rows of a sale past MAX_SALE_ITEMS: they are not kept, and the sale is rejected.
  let group: { rows: CsvRow[]; lines: number[]; key: string; extra: number; lastLine: number } | null = null;
  const flush = (g: NonNullable<typeof group>): RawSale => {
    const base = {
      line: g.lines[0],
      lastLine: g.lastLine,
      rows: g.rows.length + g.extra,
      itemLines: g.lines,
      externalId: opt(g.rows[0].external_id),
    };
    if (g.extra > 0) {
      const reason = `has ${g.rows.length + g.extra} rows (lines ${base.line} to ${g.lastLine}); a sale has at most ${MAX_SALE_ITEMS} items`;
      return { ...base, error: { field: 'external_id', reason } };
    }
    try {
      return { ...base, value: compact(csvSale(g.rows, options)) };
    } catch (err) {
      if (err instanceof FieldError) return { ...base, error: { field: err.field, reason: err.reason } };
      throw err;
    }
  };
  try {
    for await (const rec of parser as AsyncIterable<{ record: CsvRow; info: Info }>) {
      while (skipped.length) yield skipped.shift()!;
      const row = rec.record;
      // Records are reported by the line they end on; a row spans one line unless a quoted field holds newlines.
      const line = rec.info.lines;
      const externalId = opt(row.external_id);
      const key = `${opt(row.source) ?? options.source ?? ''}\u0000${externalId ?? ''}`;
      if (group && externalId && group.key === key) {
        group.lastLine = line;
        if (group.rows.length < MAX_SALE_ITEMS) {
          group.rows.push(row);
          group.lines.push(line);
        } else group.extra++;
        continue;
      }
      if (group) yield flush(group);
      group = { rows: [row], lines: [line], key, extra: 0, lastLine: line };
    }
    if (group) yield flush(group);
    while (skipped.length) yield skipped.shift()!;
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e instanceof ImportFileError) throw e;
    if (e.code?.startsWith('CSV_')) throw new ImportFileError(`CSV could not be read: ${e.message}`);
    throw e;
  }
  await feeding;
}

/** readSales yields the sales of a file in order. */
export function readSales(
  input: AsyncIterable<Buffer>,
  format: ImportFormat,
  options: ImportOptions,
): AsyncGenerator<RawSale> {
  return format === 'csv' ? readCsv(input, options) : readNdjson(input);
}

/**
 * blankOut overwrites, in place, every occurrence of each needle in `data` (ASCII case ignored) with as many "x"
 * bytes, so the file keeps its length, its lines and its CSV/JSON structure; returns how many it overwrote.
 */
export function blankOut(data: Buffer, needles: string[]): number {
  const haystack = data.toString('latin1').toLowerCase();
  let n = 0;
  for (const needle of needles) {
    const bytes = Buffer.from(needle, 'utf8').toString('latin1').toLowerCase();
    if (bytes.length === 0) continue;
    for (let at = haystack.indexOf(bytes); at >= 0; at = haystack.indexOf(bytes, at + bytes.length)) {
      data.fill(0x78, at, at + bytes.length);
      n++;
    }
  }
  return n;
}
