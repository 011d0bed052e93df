/** The dependencies every service takes, built once per process by its composition root (src/main). */
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import type { Logger } from '../logger';
import type { SaleBatcher } from './sale.service';

/** ServiceSettings are the parts of the configuration that business rules depend on. */
export interface ServiceSettings {
  defaultTimezone: string;
  graceDays: number;
  publicUrl: string;
  businessName: string;
  /** Signs customer links (preference page, one-click unsubscribe). */
  secret: string;
  /** Most sales by new customers recorded together in one transaction (0: each on its own); 100 when absent. */
  saleBatchSize?: number;
  /** Most batches of sales written at once, each on its own connection; 2 when absent. */
  saleBatchesInFlight?: number;
}

/** ServiceContext is what a use case needs: the database, the clock, settings and a logger. */
export interface ServiceContext {
  db: Database;
  clock: Clock;
  settings: ServiceSettings;
  log: Logger;
  /** Records concurrent sales together (createSaleBatcher, built by the composition root); absent: one by one. */
  saleBatcher?: SaleBatcher | null;
}

/** isUniqueViolation tells whether a Postgres error is a unique-constraint violation (optionally of one constraint). */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/** SOCKET_ERRORS are the codes of a connection to Postgres failing under the client. */
const SOCKET_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * isTransientDbError tells whether a database error may pass if tried again: a lost connection (a socket error, a
 * connection pg says terminated, or SQLSTATE class 08), a deadlock or serialization failure (40), too little of a
 * resource (53) or a restart (57). A refused value or a broken constraint (22, 23) fails the same way every time, and
 * an error that is not the database's (a bug, a conflict the service raised) is never retried.
 */
export function isTransientDbError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code && /^[0-9A-Z]{5}$/.test(code)) return ['08', '40', '53', '57'].includes(code.slice(0, 2));
  if (code) return SOCKET_ERRORS.has(code);
  return typeof e?.message === 'string' && /connection terminated|not queryable|timeout exceeded when trying to connect/i.test(e.message);
}
