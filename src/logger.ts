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

/** createLogger returns a JSON logger at `level` with redaction on. */
export function createLogger(level: string, name = 'rapport'): Logger {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}
