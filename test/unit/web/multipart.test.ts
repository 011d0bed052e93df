/**
 * The console's streaming multipart reader: text fields before the file, the file handed over as a stream, whatever
 * the chunking of the body; a body cut off inside the file fails the file's stream; a malformed form is refused.
 */
import { Readable } from 'node:stream';
import { boundaryOf, MultipartError, readMultipart } from '../../../src/web/multipart';

const LIMITS = { fieldBytes: 1024, fields: 10 };
const B = '----WebKitFormBoundaryX3b9';

function body(fileText: string, extra = ''): Buffer {
  return Buffer.from(
    `--${B}\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\ntok-123\r\n` +
      `--${B}\r\nContent-Disposition: form-data; name="source"\r\n\r\nshop pos\r\nline two\r\n` +
      `--${B}\r\nContent-Disposition: form-data; name="file"; filename="sales \\"May\\".csv"\r\nContent-Type: text/csv\r\n\r\n` +
      `${fileText}\r\n--${B}${extra}--\r\n`,
  );
}

async function text(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of stream) parts.push(p as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

function chunked(buf: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

test('boundaryOf reads plain and quoted boundaries, and nothing else', () => {
  expect(boundaryOf(`multipart/form-data; boundary=${B}`)).toBe(B);
  expect(boundaryOf('multipart/form-data; charset=utf-8; boundary="a b"')).toBe('a b');
  expect(boundaryOf('application/x-www-form-urlencoded')).toBeNull();
  expect(boundaryOf('multipart/form-data')).toBeNull();
});

test('fields and the file come out whole at every chunk size, the file holding CRLFs and boundary look-alikes', async () => {
  const file = `a,b\r\n1,2\r\n--${B.slice(0, 10)}\r\n\r\n--not-it\n3,4`;
  const whole = body(file);
  for (let size = 1; size <= 97; size++) {
    const form = await readMultipart(chunked(whole, size), B, LIMITS);
    expect(form.fields).toEqual({ _csrf: 'tok-123', source: 'shop pos\r\nline two' });
    expect(form.file?.fileName).toBe('sales "May".csv');
    expect(form.file?.contentType).toBe('text/csv');
    expect(await text(form.file!.stream)).toBe(file);
  }
});

test('a large file streams through in order', async () => {
  const file = Array.from({ length: 20_000 }, (_, i) => `row ${i},${'x'.repeat(i % 50)}`).join('\n');
  const form = await readMultipart(chunked(body(file), 65_536), B, LIMITS);
  expect(await text(form.file!.stream)).toBe(file);
});

test('a body cut off inside the file fails the file stream (a partial file is never taken as whole)', async () => {
  const whole = body('a,b\n1,2\n3,4\n');
  const form = await readMultipart(chunked(whole.subarray(0, whole.length - 20), 7), B, LIMITS);
  await expect(text(form.file!.stream)).rejects.toThrow(MultipartError);
});

test('a form without a file resolves with the fields and no file', async () => {
  const raw = Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--${B}--\r\n`);
  expect(await readMultipart(chunked(raw, 3), B, LIMITS)).toEqual({ fields: { a: '1' }, file: null });
});

test('too many or too long fields, a nameless part and a body with no boundary are refused', async () => {
  const field = (name: string, value: string) =>
    `--${B}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const many = Buffer.from(Array.from({ length: 11 }, (_, i) => field(`f${i}`, 'v')).join('') + `--${B}--\r\n`);
  await expect(readMultipart(chunked(many, 50), B, LIMITS)).rejects.toThrow('too many fields');
  const long = Buffer.from(field('f', 'v'.repeat(2000)) + `--${B}--\r\n`);
  await expect(readMultipart(chunked(long, 50), B, LIMITS)).rejects.toThrow('too long');
  const nameless = Buffer.from(`--${B}\r\nContent-Type: text/plain\r\n\r\nv\r\n--${B}--\r\n`);
  await expect(readMultipart(chunked(nameless, 50), B, LIMITS)).rejects.toThrow('has no name');
  await expect(readMultipart(chunked(Buffer.from('just text'), 4), B, LIMITS)).rejects.toThrow(MultipartError);
});

test('a consumer that stops reading the file does not stall the body: the rest is read and dropped', async () => {
  const file = 'y'.repeat(3_000_000);
  const input = chunked(body(file), 16_384);
  const form = await readMultipart(input, B, LIMITS);
  form.file!.stream.destroy();
  await new Promise<void>((resolve) => input.on('end', resolve));
  expect(input.readableEnded).toBe(true);
});
