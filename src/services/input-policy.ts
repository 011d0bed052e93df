/**
 * The one input policy: what the schemas accept is what the store and the code downstream accept. The API's
 * validator compiler (src/api/plugins/input-policy.ts) and every check of input that does not come through HTTP
 * (an import row, a stored segment read back) use the Ajv instance and the functions here, so a value is refused in
 * one place, with one message naming the field.
 *
 * - No type coercion: JSON must carry the declared type (`"1"`, `null`, `true` are not an integer, a boolean or a
 *   string). Query strings and path parameters are text, so coerceParams turns digits-only text into numbers
 *   (`Infinity`, `1e3`, `-0`, ` 1` stay text and are refused) and `true`/`false` into booleans, before validation.
 * - `email` is isEmailAddress, also used by the checks outside the schemas.
 * - `uuid` is 8-4-4-4-12 hex, nothing else (no `urn:uuid:` prefix); `date-time` and `date` are real calendar
 *   values within MIN_INPUT_YEAR..MAX_INPUT_YEAR, with an offset Postgres accepts.
 * - No string (nor object key) anywhere in an input holds NUL or an unpaired surrogate (findTextProblem).
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { fullFormats } from 'ajv-formats/dist/formats';
import { DATE_RANGE_REASON, storableText, textProblem, yearInRange } from '../domain/input-limits';
import { ValidationError } from './errors';

/** UUID is the only form of id Postgres's uuid type is given: lower or upper case hex, 8-4-4-4-12. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Postgres refuses a zone displacement beyond 15:59; no real zone is beyond 14:00.
const OFFSET = /(?:z|([+-])(\d\d):?(\d\d))$/i;

const fullDateTime = (fullFormats['date-time'] as { validate: (s: string) => boolean }).validate;
const fullDate = (fullFormats.date as { validate: (s: string) => boolean }).validate;

function dateTimeHolds(s: string): boolean {
  if (!fullDateTime(s)) return false;
  const offset = OFFSET.exec(s);
  if (!offset || (offset[1] && Number(offset[2]) > 14)) return false;
  return yearInRange(Number(s.slice(0, 4))) && Number.isFinite(Date.parse(s.replace(' ', 'T')));
}

function dateHolds(s: string): boolean {
  return fullDate(s) && yearInRange(Number(s.slice(0, 4)));
}

const fullEmail = fullFormats.email as RegExp;

/**
 * isEmailAddress is the one test of an email address, for the API's `email` format, imports (which validate through
 * the same schemas), the customer's contact form and the business's From address: a dot-atom local part, a domain of
 * dotted labels, at most 254 characters.
 */
export function isEmailAddress(s: string): boolean {
  return s.length <= 254 && fullEmail.test(s);
}

/** isInputDateTime tells whether a string is an ISO 8601 instant the policy accepts (the `date-time` format). */
export const isInputDateTime = dateTimeHolds;

/** isInputDate tells whether a string is a calendar date YYYY-MM-DD the policy accepts (the `date` format). */
export const isInputDate = dateHolds;

/** createPolicyAjv returns an Ajv instance with the policy's options and formats. */
export function createPolicyAjv(): Ajv {
  const ajv = new Ajv({
    coerceTypes: false,
    useDefaults: true,
    removeAdditional: false,
    addUsedSchema: false,
    // One error: enough to name the field, and allErrors invites denial of service on big bodies.
    allErrors: false,
  });
  addFormats(ajv);
  ajv.addFormat('uuid', UUID);
  ajv.addFormat('date-time', { type: 'string', validate: dateTimeHolds });
  ajv.addFormat('date', { type: 'string', validate: dateHolds });
  ajv.addFormat('email', { type: 'string', validate: isEmailAddress });
  return ajv;
}

const FORMAT_REASONS: Record<string, string> = {
  uuid: 'must be a UUID (8-4-4-4-12 hexadecimal digits)',
  'date-time': `must be an ISO 8601 date-time with an offset (e.g. 2026-11-01T14:03:00Z), ${DATE_RANGE_REASON}`,
  date: `must be a date YYYY-MM-DD, ${DATE_RANGE_REASON}`,
  email: 'is not a valid email address',
};

/** InputIssue is one refused value: the dotted field ("customer.email", "items.0.unitPrice") and why. */
export interface InputIssue {
  field: string;
  reason: string;
}

/** issueOf turns an Ajv error into the field it names and a reason a person reads ("is required"). */
export function issueOf(error: Pick<ErrorObject, 'instancePath' | 'keyword' | 'message' | 'params'>, context?: string) {
  const path = error.instancePath.replace(/^\//, '').replace(/\//g, '.').replace(/~1/g, '/').replace(/~0/g, '~');
  const params = error.params as Record<string, unknown>;
  const extra = (params.missingProperty ?? params.additionalProperty) as string | undefined;
  const field = [path, extra].filter(Boolean).join('.') || context || 'body';
  const format = error.keyword === 'format' ? FORMAT_REASONS[params.format as string] : undefined;
  const reason =
    error.keyword === 'additionalProperties'
      ? 'is not a known field'
      : error.keyword === 'required'
        ? 'is required'
        : (format ?? error.message ?? 'is invalid');
  return { field, reason };
}

/** MAX_INPUT_DEPTH bounds how deeply an input may nest: deeper than any schema, shallow enough for any walk. */
export const MAX_INPUT_DEPTH = 32;

function isPlain(v: unknown): v is Record<string, unknown> | unknown[] {
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return true;
  const proto = Object.getPrototypeOf(v);
  // Query strings are parsed into objects whose prototype is itself an empty object without prototype.
  return proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null;
}

/**
 * findTextProblem returns the first string or object key of `value` that cannot be stored (textProblem), with its
 * path, or a too-deep nesting; null when all is well. Streams and other objects are not looked into.
 */
export function findTextProblem(value: unknown): { path: string[]; reason: string } | null {
  const stack: { v: unknown; path: string[] }[] = [{ v: value, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'string') {
      const reason = textProblem(v);
      if (reason) return { path, reason };
      continue;
    }
    if (!isPlain(v)) continue;
    if (path.length >= MAX_INPUT_DEPTH) return { path, reason: `nests deeper than ${MAX_INPUT_DEPTH} levels` };
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, x] = entries[i];
      const reason = textProblem(k);
      if (reason) return { path: [...path, storableText(k)], reason: `(a field name) ${reason}` };
      stack.push({ v: x, path: [...path, storableText(k)] });
    }
  }
  return null;
}

/** DIGITS is what a query string or path parameter must be to be read as a number: digits only, no sign. */
const DIGITS = /^[0-9]{1,15}$/;

interface PartSchema {
  type?: string | string[];
  items?: PartSchema;
  properties?: Record<string, PartSchema>;
}

function coerceOne(schema: PartSchema, value: unknown): unknown {
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.includes('array') && schema.items) {
    const list = Array.isArray(value) ? value : [value];
    return list.map((v) => coerceOne(schema.items!, v));
  }
  if (typeof value !== 'string' || types.includes('string')) return value;
  if ((types.includes('integer') || types.includes('number')) && DIGITS.test(value)) return Number(value);
  if (types.includes('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

/**
 * coerceParams reads the text of a query string or of path parameters as the schema's top-level properties declare:
 * digits-only text as a number, `true`/`false` as a boolean, a single value as a one-item list. Anything else is
 * left as text, so the schema refuses it naming the field. It changes `data` in place.
 */
export function coerceParams(schema: unknown, data: unknown): void {
  const properties = (schema as PartSchema | null)?.properties;
  if (!properties || !isPlain(data) || Array.isArray(data)) return;
  for (const [name, prop] of Object.entries(properties)) {
    if (Object.prototype.hasOwnProperty.call(data, name) && data[name] !== undefined)
      data[name] = coerceOne(prop, data[name]);
  }
}

/** Checker validates an untrusted value against one schema, throwing a ValidationError naming the field. */
export type Checker<T> = (value: unknown) => T;

/**
 * compileChecker returns a Checker for `schema` under the policy: the text rule first, then the schema. For input that
 * does not come through HTTP (the API's own validator compiler applies the same policy to requests).
 */
export function compileChecker<T>(schema: object): Checker<T> {
  const validate: ValidateFunction = sharedAjv().compile(schema);
  return (value: unknown) => {
    const bad = findTextProblem(value);
    if (bad) throw new ValidationError(bad.path.join('.') || 'body', bad.reason);
    if (!validate(value)) {
      const { field, reason } = issueOf(validate.errors![0]);
      throw new ValidationError(field, reason);
    }
    return value as T;
  };
}

let shared: Ajv | null = null;

// Compiled validators are kept by their Ajv; one instance serves every checker of a process (no I/O, no state).
function sharedAjv(): Ajv {
  return (shared ??= createPolicyAjv());
}
