/** The API against a fresh database of its own and the real Redis, with an admin and a pos key, for app.inject(). */
import IORedis from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { buildApp, type HttpSettings } from '../../src/api/app';
import { createApiMetrics } from '../../src/api/metrics';
import { fixedClock, type Clock } from '../../src/clock';
import { createLogger, type Logger } from '../../src/logger';
import { createApiKey } from '../../src/services/auth.service';
import { createEmailChannel, type EmailChannel } from '../../src/channels/email.channel';
import type { ServiceContext, ServiceSettings } from '../../src/services/context';
import { createSaleBatcher } from '../../src/services/sale.service';
import { createTestDatabase, type TestDatabase } from './database';

/** TestApp is a running app with keys to call it. */
export interface TestApp {
  app: FastifyInstance;
  ctx: ServiceContext;
  database: TestDatabase;
  clock: ReturnType<typeof fixedClock>;
  adminKey: string;
  posKey: string;
  auth(key: string): { authorization: string };
  close(): Promise<void>;
}

/** TEST_SETTINGS are the settings tests run with. */
export const TEST_SETTINGS: ServiceSettings = {
  defaultTimezone: 'UTC',
  graceDays: 14,
  publicUrl: 'http://rapport.test',
  identity: {
    name: 'Test Shop',
    address: { lines: ['12 Shop St'], city: 'Sydney', region: 'NSW', postalCode: '2000', country: 'AU' },
    phone: '+61 2 5550 1000',
    website: 'shop.test',
    emailFrom: 'Test Shop <hello@shop.test>',
  },
  secret: 'test-secret-0123456789abcdef0123456789',
  saleBatchSize: 100,
  saleBatchesInFlight: 2,
};

/** testContext builds a service context on a test database with a fixed clock. */
export function testContext(
  database: TestDatabase,
  clock: Clock,
  settings: Partial<ServiceSettings> = {},
  log: Logger = createLogger('silent'),
): ServiceContext {
  const ctx: ServiceContext = { db: database.db, clock, settings: { ...TEST_SETTINGS, ...settings }, log };
  return { ...ctx, saleBatcher: createSaleBatcher(ctx) };
}

/** TestAppOptions change the service context of a test app: settings (e.g. the sale batch size) and its logger. */
export interface TestAppOptions {
  settings?: Partial<ServiceSettings>;
  serviceLog?: Logger;
  /** Server-level settings (rate limits, metrics token, trustProxy); none by default. */
  http?: HttpSettings;
  /** Hands a stored import to the workers; absent: POST /v1/imports answers 503. */
  enqueueImport?: (importId: string) => Promise<void>;
  /** Sends the customers' single-use links (export, erasure); absent, asking for one answers 503. */
  email?: EmailChannel;
  /** An SMTP server for the console's sign-in emails (test/helpers/smtp.ts); without it the console cannot email. */
  smtpUrl?: string;
}

/** createTestApp starts the app on its own database with the clock at `now`. */
export async function createTestApp(
  label: string,
  now = new Date('2026-11-02T10:00:00Z'),
  logger?: Logger,
  options: TestAppOptions = {},
): Promise<TestApp> {
  const database = await createTestDatabase(label);
  const clock = fixedClock(now);
  const ctx = testContext(database, clock, options.settings, options.serviceLog);
  const redis = new IORedis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  });
  redis.on('error', () => undefined);
  await redis.connect();
  const email: EmailChannel | null = options.email
    ? options.email
    : options.smtpUrl
      ? createEmailChannel({
          smtpUrl: options.smtpUrl,
          outboxDir: 'outbox',
          from: 'Test Shop <hello@rapport.test>',
          pool: false,
        })
      : null;
  const app = await buildApp({
    ctx,
    email,
    logger,
    metrics: createApiMetrics(ctx),
    redisPing: async () => void (await redis.ping()),
    http: options.http,
    enqueueImport: options.enqueueImport,
  });
  const adminKey = (await createApiKey(database.db, { name: 'test admin', role: 'admin' })).key;
  const posKey = (await createApiKey(database.db, { name: 'test pos', role: 'pos' })).key;
  return {
    app,
    ctx,
    database,
    clock,
    adminKey,
    posKey,
    auth: (key) => ({ authorization: `Bearer ${key}` }),
    async close() {
      await app.close();
      await email?.close();
      redis.disconnect();
      await database.drop();
    },
  };
}

/** saleBody returns a valid sale body, with fields overridden by `patch` (deep for customer). */
export function saleBody(
  patch: Record<string, unknown> = {},
  customer: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    externalId: 'INV-1001',
    source: 'shop-pos',
    soldAt: '2026-11-01T14:03:00Z',
    total: { amount: '1299.00', currency: 'AUD' },
    items: [{ sku: 'SOFA-3', name: '3-seat sofa', category: 'furniture', quantity: 1, unitPrice: '1299.00' }],
    customer: {
      externalId: 'C-77',
      firstName: 'Ann',
      lastName: 'Lee',
      email: 'ann@example.com',
      phone: '+61 2 5550 1234',
      timezone: 'Australia/Sydney',
      preferredChannel: 'email',
      address: { lines: ['1 Main St'], city: 'Sydney', region: 'NSW', postalCode: '2000', country: 'AU' },
      ...customer,
    },
    salesperson: { email: 'sam@shop.example', name: 'Sam Shaw' },
    ...patch,
  };
}
