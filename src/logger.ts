/** The pino logger with redaction: secrets and personal data never reach the logs. */
import pino from 'pino';

/** Logger is the pino logger type used across the app. */
export type Logger = pino.Logger;

/** REDACT_PATHS are the fields removed from every log line, wherever they appear in a logged request or object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'headers.authorization',
  '*.email',
  '*.phone',
  '*.firstName',
  '*.lastName',
  '*.address',
  '*.password',
  '*.token',
  '*.key',
  '*.secret',
  'email',
  'phone',
  'firstName',
  'lastName',
  'address',
  'token',
  'key',
  'secret',
  'customer',
  'body',
];

/**
 * redactUrl keeps a URL's path and query keys but drops query values (an email searched for) and the signed token
 * of customer links (/p/:token, /u/:token), which works like a password.
 */
export function redactUrl(url: string): string {
  const [path, query] = url.split('?', 2);
  const safePath = path.replace(/^\/(p|u)\/[^/]+/, '/$1/[redacted]');
  if (query === undefined) return safePath;
  const keys = [...new URLSearchParams(query).keys()];
  return `${safePath}?${keys.map((k) => `${encodeURIComponent(k)}=[redacted]`).join('&')}`;
}

const EMAIL_PATTERN = /[^\s<>()"',;:]+@[^\s<>()"',;:]+\.[a-z]{2,}/gi;

// Only plain objects are copied: requests and replies go to their own serializers untouched.
function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * scrubEmails replaces email addresses in the string values of a log object (two levels deep, so an error's message
 * and detail are covered): a mail server's refusal or a database error may quote the address it refused.
 */
export function scrubEmails(obj: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'string') out[k] = v.replace(EMAIL_PATTERN, '[email]');
    else if (v instanceof Error)
      out[k] = scrubEmails({ ...v, type: v.name, message: v.message, stack: v.stack }, depth + 1);
    else if (isPlainObject(v) && depth < 2) out[k] = scrubEmails(v, depth + 1);
    else out[k] = v;
  }
  return out;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  routeOptions?: { url?: string };
  ip?: string;
}

/** createLogger returns a JSON logger at `level` with redaction on. */
export function createLogger(level: string, name = 'rapport', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { log: (obj) => scrubEmails(obj) },
      serializers: {
        req: (req: LoggedRequest) => ({
          method: req.method,
          url: redactUrl(req.url ?? ''),
          route: req.routeOptions?.url,
          remoteAddress: req.ip,
        }),
      },
    },
    destination,
  );
}
