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
  '*.email', '*.phone', '*.firstName', '*.lastName', '*.address', '*.password', '*.token', '*.key', '*.secret',
  'email', 'phone', 'firstName', 'lastName', 'address', 'token', 'key', 'secret',
  'customer', 'body',
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
      serializers: {
        req: (req: LoggedRequest) => ({ method: req.method, url: redactUrl(req.url ?? ''), route: req.routeOptions?.url, remoteAddress: req.ip }),
      },
    },
    destination,
  );
}
