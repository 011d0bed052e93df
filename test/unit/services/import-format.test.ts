/** Reading accounting amounts and export dates, and grouping CSV rows into sales: pure, no I/O. */
import {
  parseAmount,
  parseSoldAt,
  readSales,
  FieldError,
  ImportFileError,
  MAX_LINE_BYTES,
  type RawSale,
} from '../../../src/services/import-format';

describe('parseAmount', () => {
  it.each([
    ['1299', '1299.00'],
    ['1299.5', '1299.50'],
    ['1,299.00', '1299.00'],
    ['$1,299.00', '1299.00'],
    ['AUD 1,299.00', '1299.00'],
    ['1 299.00', '1299.00'],
    ["1'299.00", '1299.00'],
    ['1,234,567.89', '1234567.89'],
    ['0.5', '0.50'],
    ['007', '7.00'],
  ])('reads %s as %s', (raw, amount) => expect(parseAmount(raw)).toBe(amount));

  it.each(['-12.00', '(12.00)', '$(12.00)', '12.00-'])('refuses the negative %s', (raw) => {
    expect(() => parseAmount(raw)).toThrow(/negative/);
  });

  it.each(['twelve', '12.345', '1,29', '', '12,00'])('refuses %j', (raw) =>
    expect(() => parseAmount(raw)).toThrow(FieldError),
  );
});

describe('parseSoldAt', () => {
  it('keeps an instant with an offset', () => {
    expect(parseSoldAt('2025-11-01T14:03:00Z', 'Australia/Sydney', 'dmy')).toBe('2025-11-01T14:03:00.000Z');
    expect(parseSoldAt('2025-11-01 14:03:00+1100', 'UTC', 'dmy')).toBe('2025-11-01T14:03:00.000+11:00');
  });

  it('reads local times and dates in the zone, a bare date at noon', () => {
    expect(parseSoldAt('2025-11-01 14:03', 'Australia/Sydney', 'dmy')).toBe('2025-11-01T14:03:00.000+11:00');
    expect(parseSoldAt('2025-07-01', 'Australia/Sydney', 'dmy')).toBe('2025-07-01T12:00:00.000+10:00');
  });

  it('reads slashed dates in the order asked for', () => {
    expect(parseSoldAt('03/04/2025', 'UTC', 'dmy')).toBe('2025-04-03T12:00:00.000Z');
    expect(parseSoldAt('03/04/2025', 'UTC', 'mdy')).toBe('2025-03-04T12:00:00.000Z');
    expect(parseSoldAt('3.4.2025 09:30', 'Europe/Berlin', 'dmy')).toBe('2025-04-03T09:30:00.000+02:00');
  });

  it('refuses impossible and unknown dates, naming the order', () => {
    expect(() => parseSoldAt('31/02/2025', 'UTC', 'dmy')).toThrow(/day\/month\/year/);
    expect(() => parseSoldAt('13/01/2025', 'UTC', 'mdy')).toThrow(/month\/day\/year/);
    expect(() => parseSoldAt('next Tuesday', 'UTC', 'dmy')).toThrow(/known format/);
  });
});

async function read(text: string, format: 'csv' | 'ndjson', chunkSize = 7): Promise<RawSale[]> {
  const out: RawSale[] = [];
  // Split the input at awkward places, as chunks of a stored upload would be, including inside a multi-byte character.
  const bytes = Buffer.from(text);
  async function* chunks() {
    for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
  }
  for await (const s of readSales(chunks(), format, {
    dateFormat: 'dmy',
    defaultTimezone: 'UTC',
    currency: 'EUR',
    source: 'shop',
  }))
    out.push(s);
  return out;
}

describe('readSales', () => {
  it('groups consecutive CSV rows of one sale and keeps each item line', async () => {
    const csv =
      'external_id,sold_at,total,first_name,email,item_name,unit_price\n' +
      'A,01/02/2025,"1,000.00",Zoë,z@example.com,Table,800\n' +
      'A,,,,,Chairs,200\n' +
      'B,2025-02-02,5,Åsa,a@example.com,Cup,5\n';
    const sales = await read(csv, 'csv');
    expect(sales.map((s) => [s.line, s.lastLine, s.rows, s.itemLines])).toEqual([
      [2, 3, 2, [2, 3]],
      [4, 4, 1, [4]],
    ]);
    expect(sales[0].value).toMatchObject({
      externalId: 'A',
      source: 'shop',
      total: { amount: '1000.00', currency: 'EUR' },
      customer: { firstName: 'Zoë' },
    });
    expect((sales[0].value as { items: unknown[] }).items).toHaveLength(2);
  });

  it('numbers NDJSON lines, skipping blank ones', async () => {
    const sales = await read('{"externalId":"X","customer":{"firstName":"Zoë"}}\n\n{oops\n', 'ndjson');
    expect(sales.map((s) => [s.line, s.error?.field ?? null])).toEqual([
      [1, null],
      [3, 'line'],
    ]);
  });

  it('rejects an NDJSON line over 1 MiB with its line number, and reads on', async () => {
    const long = JSON.stringify({ externalId: 'L', customer: { firstName: 'x'.repeat(MAX_LINE_BYTES) } });
    for (const chunkSize of [64 * 1024, 3 * MAX_LINE_BYTES]) {
      const sales = await read(`{"externalId":"A"}\n${long}\n{"externalId":"B"}\n${long}`, 'ndjson', chunkSize);
      expect(sales.map((s) => [s.line, s.externalId ?? null, s.error?.reason ?? null])).toEqual([
        [1, 'A', null],
        [2, null, `is longer than ${MAX_LINE_BYTES} bytes`],
        [3, 'B', null],
        [4, null, `is longer than ${MAX_LINE_BYTES} bytes`],
      ]);
    }
  });

  it('stops a CSV file at a record over 1 MiB, naming its line', async () => {
    const header = 'external_id,sold_at,total,first_name,item_name,unit_price\n';
    const csv = `${header}A,2025-02-02,5,Ann,Cup,5\nB,2025-02-02,5,"${'x'.repeat(MAX_LINE_BYTES)}\nC,2025-02-02,5,Cy,Cup,5\n`;
    await expect(read(csv, 'csv', 64 * 1024)).rejects.toThrow(ImportFileError);
    await expect(read(csv, 'csv', 64 * 1024)).rejects.toThrow(/^line 3: a CSV record is longer than 1048576 bytes/);
  });

  it('rejects a CSV sale of more rows than a sale may have items, keeping none past the limit', async () => {
    const header = 'external_id,sold_at,total,first_name,item_name,unit_price\n';
    const rows = Array.from({ length: 501 }, (_, i) => (i === 0 ? 'A,2025-02-02,501,Ann,Cup,1' : 'A,,,,Cup,1'));
    const csv = `${header}${rows.join('\n')}\nB,2025-02-02,5,Bo,Cup,5\n`;
    const sales = await read(csv, 'csv', 4096);
    expect(sales.map((s) => [s.line, s.lastLine, s.rows, s.externalId, s.error?.field ?? null])).toEqual([
      [2, 502, 501, 'A', 'external_id'],
      [503, 503, 1, 'B', null],
    ]);
    expect(sales[0].error!.reason).toMatch(/has 501 rows .* at most 500 items/);
    expect(sales[0].itemLines).toHaveLength(500);
  });
});
