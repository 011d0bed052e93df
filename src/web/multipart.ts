/**
 * A streaming reader of `multipart/form-data` for the console's one upload form (no package for it is installed).
 * The form puts its text fields first and the file last, as browsers send fields in the order of the form: the
 * reader collects the text fields, then hands over the file as a stream the moment its headers are read, and goes
 * on feeding it from the request as the consumer reads (back-pressure included). The request body is never held
 * whole. Parts after the file are read and dropped. A body that ends before its closing boundary fails the file
 * stream, so a cut-off upload is never taken for a whole file.
 */
import { PassThrough, type Readable } from 'node:stream';

/** MultipartFile is the uploaded file: its form field, the name and type the browser gave, and its bytes. */
export interface MultipartFile {
  field: string;
  fileName: string;
  contentType: string;
  stream: Readable;
}

/** MultipartForm is what came before the file (text fields) and the file, if any. */
export interface MultipartForm {
  fields: Record<string, string>;
  file: MultipartFile | null;
}

/** MultipartLimits bound what is buffered: the text fields and each part's headers. */
export interface MultipartLimits {
  /** Most bytes of all text fields together. */
  fieldBytes: number;
  /** Most text fields. */
  fields: number;
}

const HEADER_BYTES = 8 * 1024;

/** MultipartError is a body that is not the form it claims to be (answered 400). */
export class MultipartError extends Error {
  readonly statusCode = 400;
}

/** boundaryOf returns the boundary of a multipart/form-data Content-Type, or null. */
export function boundaryOf(contentType: string | undefined): string | null {
  const m = /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2])! : null;
}

function parseHeaders(text: string): { name: string; fileName: string | null; contentType: string } {
  let name: string | null = null;
  let fileName: string | null = null;
  let contentType = 'text/plain';
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 1) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'content-type') contentType = value.toLowerCase();
    if (key !== 'content-disposition') continue;
    const n = /(?:^|;)\s*name="((?:[^"\\]|\\.)*)"/i.exec(value);
    const f = /(?:^|;)\s*filename="((?:[^"\\]|\\.)*)"/i.exec(value);
    if (n) name = n[1]!.replace(/\\(.)/g, '$1');
    if (f) fileName = f[1]!.replace(/\\(.)/g, '$1');
  }
  if (name === null) throw new MultipartError('a part of the form has no name');
  return { name, fileName, contentType };
}

/**
 * readMultipart reads `input` (the request body) up to the first file part and resolves with the text fields and
 * that file's stream, or with `file: null` at the end of a form with no file. Rejects with MultipartError for a
 * malformed form or one over `limits`, or with the input's own error.
 */
export function readMultipart(input: Readable, boundary: string, limits: MultipartLimits): Promise<MultipartForm> {
  // The body starts "--boundary"; every later boundary is preceded by CRLF: seeding the buffer with CRLF makes them
  // all the same delimiter.
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  return new Promise<MultipartForm>((resolve, reject) => {
    const fields: Record<string, string> = {};
    let fieldBytes = 0;
    let fieldCount = 0;
    let settled = false;
    let file: PassThrough | null = null;
    let fileOpen = false; // its bytes are still being written
    let discarding = false; // its consumer went away: read the rest of the body and drop it

    const fail = (err: Error) => {
      if (!settled) {
        settled = true;
        reject(err);
      } else if (fileOpen && file && !file.destroyed) file.destroy(err);
      fileOpen = false;
    };
    const writeFile = async (data: Buffer) => {
      if (!file || discarding || data.length === 0) return;
      if (file.destroyed) {
        discarding = true;
        return;
      }
      if (!file.write(data))
        await new Promise<void>((done) => {
          const finish = () => {
            file!.off('drain', finish);
            file!.off('close', finish);
            done();
          };
          file!.on('drain', finish);
          file!.on('close', finish);
        });
    };

    const pump = async () => {
      let buf: Buffer = Buffer.from('\r\n');
      let state: 'preamble' | 'after-boundary' | 'headers' | 'body' | 'done' = 'preamble';
      let part: { name: string; fileName: string | null; chunks: Buffer[]; size: number } | null = null;
      let ended = false;
      const iterator = input[Symbol.asyncIterator]();
      for (;;) {
        // Parse as much of `buf` as possible.
        let progressed = true;
        while (progressed) {
          progressed = false;
          if (state === 'preamble') {
            const at = buf.indexOf(delimiter);
            if (at === -1) {
              buf = buf.subarray(Math.max(0, buf.length - delimiter.length + 1));
              if (buf.length > 0 && ended) throw new MultipartError('the form has no parts');
            } else {
              buf = buf.subarray(at + delimiter.length);
              state = 'after-boundary';
              progressed = true;
            }
          } else if (state === 'after-boundary') {
            if (buf.length < 2) break;
            if (buf[0] === 0x2d && buf[1] === 0x2d) {
              state = 'done';
              break;
            }
            const eol = buf.indexOf('\r\n');
            if (eol === -1) {
              if (buf.length > 256) throw new MultipartError('a boundary line is malformed');
              break;
            }
            buf = buf.subarray(eol + 2);
            state = 'headers';
            progressed = true;
          } else if (state === 'headers') {
            const end = buf.indexOf('\r\n\r\n');
            if (end === -1) {
              if (buf.length > HEADER_BYTES) throw new MultipartError('a part of the form has too long headers');
              break;
            }
            const h = parseHeaders(buf.subarray(0, end).toString('utf8'));
            buf = buf.subarray(end + 4);
            state = 'body';
            progressed = true;
            if (h.fileName !== null && !file && !settled) {
              file = new PassThrough({ highWaterMark: 256 * 1024 });
              fileOpen = true;
              settled = true;
              resolve({
                fields,
                file: { field: h.name, fileName: h.fileName, contentType: h.contentType, stream: file },
              });
              part = null;
            } else if (h.fileName !== null || settled) {
              part = null; // a second file, or a field after the file: dropped
            } else {
              if (++fieldCount > limits.fields) throw new MultipartError('the form has too many fields');
              part = { name: h.name, fileName: null, chunks: [], size: 0 };
            }
          } else if (state === 'body') {
            const at = buf.indexOf(delimiter);
            const take = at === -1 ? Math.max(0, buf.length - delimiter.length + 1) : at;
            const data = buf.subarray(0, take);
            if (part) {
              part.size += data.length;
              fieldBytes += data.length;
              if (fieldBytes > limits.fieldBytes) throw new MultipartError('the form fields are too long');
              part.chunks.push(Buffer.from(data));
            } else if (fileOpen) await writeFile(data);
            buf = buf.subarray(take);
            if (at !== -1) {
              if (part) fields[part.name] = Buffer.concat(part.chunks).toString('utf8');
              else if (fileOpen) {
                fileOpen = false;
                file!.end();
              }
              part = null;
              buf = buf.subarray(delimiter.length);
              state = 'after-boundary';
              progressed = true;
            }
          }
        }
        if (state === 'done') break;
        if (ended) throw new MultipartError('the upload ended before the end of the form');
        const next = await iterator.next();
        if (next.done) {
          ended = true;
          continue;
        }
        const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : (next.value as Buffer);
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      }
      // Read and drop an epilogue, so the request is consumed.
      for (;;) if ((await iterator.next()).done) break;
      if (!settled) {
        settled = true;
        resolve({ fields, file: null });
      }
    };
    pump().catch((err: Error) => fail(err));
  });
}
