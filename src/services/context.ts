/** The dependencies every service takes, built once per process by its composition root (src/main). */
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import type { Logger } from '../logger';
import type { SaleBatcher } from './sale.service';
import type { IdentityDefaults } from './business-identity.service';
import type { ErasurePort } from './erasure-port';

/** ServiceSettings are the parts of the configuration that business rules depend on. */
export interface ServiceSettings {
  defaultTimezone: string;
  graceDays: number;
  /** The country a phone without a country code is read in when the customer's is unknown (DEFAULT_COUNTRY). */
  defaultCountry?: string | null;
  publicUrl: string;
  /** The business's identity from the environment: the defaults of what a manager saves (business-identity.service). */
  identity: IdentityDefaults;
  /** Signs customer links (preference page, one-click unsubscribe). */
  secret: string;
  /** Every letter's paper (RAPPORT_PAPER); null or absent: by the destination country. */
  letterPaper?: 'A4' | 'Letter' | null;
  /** Earlier secrets whose links are still accepted while a rotation settles (RAPPORT_SECRET_PREVIOUS). */
  previousSecrets?: string[];
  /** Most sales by new customers recorded together in one transaction (0: each on its own; SALE_BATCH_SIZE). */
  saleBatchSize: number;
  /** Most batches of sales written at once, each on its own connection (SALE_BATCHES_IN_FLIGHT). */
  saleBatchesInFlight: number;
  /** Bytes one API key may upload as imports in any 24 hours (RAPPORT_IMPORT_QUOTA_BYTES; default 10 GiB). */
  importQuotaBytes?: number;
}

/** ServiceContext is what a use case needs: the database, the clock, settings and a logger. */
export interface ServiceContext {
  db: Database;
  clock: Clock;
  settings: ServiceSettings;
  log: Logger;
  /** Records concurrent sales together (createSaleBatcher, built by the composition root); absent: one by one. */
  saleBatcher?: SaleBatcher | null;
  /** Erases what the queues and the outbox keep of a customer's deliveries (src/jobs builds it); absent: nothing. */
  erasure?: ErasurePort | null;
}

/** isUniqueViolation tells whether a Postgres error is a unique-constraint violation (optionally of one constraint). */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/** SOCKET_ERRORS are the codes of a connection to Postgres failing under the client. */
const SOCKET_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * TRANSIENT_SQLSTATES are the Postgres errors that pass when tried again: a connection lost or refused (08000, 08001,
 * 08003, 08004, 08006), a serialization failure or deadlock (40001, 40P01), too many connections (53300), and the
 * server shutting down or starting (57P01, 57P02, 57P03).
 */
const TRANSIENT_SQLSTATES = new Set([
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '40001',
  '40P01',
  '53300',
  '57P01',
  '57P02',
  '57P03',
]);

/**
 * isTransientDbError tells whether a database error may pass if tried again: a lost connection (a socket error, a
 * connection pg says terminated, or one of TRANSIENT_SQLSTATES), a deadlock or a server restart. A refused value, a
 * broken constraint, a cancelled statement or an error that is not the database's (a bug, a conflict the service
 * raised) is never retried.
 */
export function isTransientDbError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code) return SOCKET_ERRORS.has(code) || TRANSIENT_SQLSTATES.has(code);
  // "timeout exceeded when trying to connect": the pool had no connection free in time (a loaded or restarting server).
  return (
    typeof e?.message === 'string' &&
    /connection terminated|not queryable|timeout exceeded when trying to connect/i.test(e.message)
  );
}

/**
 * retryTransient runs `run`, and again after each pause of `delaysMs` while it fails with a transient database error
 * (isTransientDbError): a restarting database or a deadlock gets a moment to pass. Any other error, or the last
 * attempt's, is thrown.
 */
export async function retryTransient<T>(delaysMs: readonly number[], run: () => Promise<T>): Promise<T> {
  for (const delay of delaysMs) {
    try {
      return await run();
    } catch (err) {
      if (!isTransientDbError(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  return run();
}
