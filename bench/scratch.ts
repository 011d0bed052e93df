/**
 * Helpers the benchmarks share: scratch databases on the bench's Postgres server, a process's CPU time, and the
 * service context a bench calls the services with.
 */
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { systemClock } from '../src/clock';
import type { Database } from '../src/db/database';
import { createLogger, type Logger } from '../src/logger';
import type { ServiceContext, ServiceSettings } from '../src/services/context';

/** benchContext is a service context on `db` with the real clock, a quiet log and settings any bench can use. */
export function benchContext(
  db: Database,
  settings: Partial<ServiceSettings> = {},
  log: Logger = createLogger('warn'),
): ServiceContext {
  return {
    db,
    clock: systemClock,
    log,
    settings: {
      defaultTimezone: 'UTC',
      graceDays: 14,
      publicUrl: 'http://bench',
      identity: { name: 'Bench Shop', address: null, phone: null, website: null, emailFrom: null },
      secret: 'bench-secret-0123456789abcdef012345',
      saleBatchSize: 0,
      saleBatchesInFlight: 1,
      ...settings,
    },
  };
}

/** databaseUrl returns `base` pointing at database `name`. */
export function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** dropDatabase drops a scratch database, disconnecting whoever is still on it. */
export async function dropDatabase(base: string, name: string): Promise<void> {
  const admin = new Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
}

/** cpuSeconds reads the user + system CPU time a process has used, in seconds (clock ticks of 1/100 s); NaN if gone. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}
