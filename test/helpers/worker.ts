/**
 * The real worker runtime in the test process: its own database context, its own Redis key prefix, and an SMTP
 * server of the test's choosing. Maintenance tasks are not scheduled unless asked; tests run them by hand.
 */
import IORedis from 'ioredis';
import { loadConfig } from '../../src/config';
import type { Clock } from '../../src/clock';
import type { MaintenanceTask } from '../../src/jobs/contract';
import { startWorkerProcess, type WorkerProcess } from '../../src/main/worker-process';
import type { DispatchSettings } from '../../src/services/dispatch.service';
import type { ServiceContext, ServiceSettings } from '../../src/services/context';
import { createLogger } from '../../src/logger';
import { TEST_SETTINGS } from './app';
import { uniqueName, type TestDatabase } from './database';

/** REDIS_URL is the Redis the tests use. */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** TestWorker is a running worker runtime with its context. */
export interface TestWorker extends WorkerProcess {
  ctx: ServiceContext;
  prefix: string;
  /** runMaintenance runs one periodic task now, as its repeating job would. */
  runMaintenance(task: MaintenanceTask): Promise<unknown>;
}

/** TestWorkerOptions choose the database, clock, SMTP server and dispatch settings. */
export interface TestWorkerOptions {
  database: TestDatabase;
  clock: Clock;
  smtpUrl: string | null;
  outboxDir?: string;
  prefix?: string;
  dispatch?: Partial<DispatchSettings>;
  scheduleMaintenance?: boolean;
  concurrency?: number;
  /** Letter paper size (RAPPORT_PAPER); by the destination country when not given. */
  paper?: 'A4' | 'Letter';
  /** Settings of the worker's context, over TEST_SETTINGS (e.g. an identity with no business name). */
  settings?: Partial<ServiceSettings>;
}

/** startTestWorker starts the workers of src/main/worker-process with test settings. */
export async function startTestWorker(o: TestWorkerOptions): Promise<TestWorker> {
  const prefix = o.prefix ?? uniqueName('rapport_test');
  const config = loadConfig({
    DATABASE_URL: o.database.url,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    // Tests send to an in-process SMTP server without TLS at an http test URL.
    RAPPORT_ENV: 'development',
    SMTP_URL: o.smtpUrl ?? undefined,
    RAPPORT_OUTBOX_DIR: o.outboxDir,
    PUBLIC_URL: TEST_SETTINGS.publicUrl,
    RAPPORT_BUSINESS_NAME: TEST_SETTINGS.identity.name ?? undefined,
    RAPPORT_MAIL_FROM: 'Test Shop <hello@shop.test>',
    WORKER_CONCURRENCY: String(o.concurrency ?? 8),
    RAPPORT_PAPER: o.paper,
  });
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const ctx: ServiceContext = { db: o.database.db, clock: o.clock, settings: { ...TEST_SETTINGS, ...o.settings }, log };
  const process_ = await startWorkerProcess(config, ctx, log, {
    dispatch: o.dispatch,
    scheduleMaintenance: o.scheduleMaintenance ?? false,
  });
  return {
    ...process_,
    ctx,
    prefix,
    runMaintenance: (task) => process_.table.maintenance[task]!(),
    async close() {
      await process_.close();
      await deleteRedisPrefix(prefix);
    },
  };
}

/** deleteRedisPrefix removes every key under a test's prefix. */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new IORedis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
