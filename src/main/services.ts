/** Building the shared parts of a process: the service context, the admin key and secret, and a Redis client. */
import IORedis, { type Redis } from 'ioredis';
import type { Config } from '../config';
import { systemClock, type Clock } from '../clock';
import type { Database } from '../db/database';
import type { Logger } from '../logger';
import type { ServiceContext } from '../services/context';
import { ensureAdminKey } from '../services/auth.service';
import { createSaleBatcher } from '../services/sale.service';
import { firstManagerLink } from '../services/session.service';

/** buildContext assembles the ServiceContext of a process. */
export function buildContext(
  config: Config,
  db: Database,
  log: Logger,
  secret: string,
  clock: Clock = systemClock,
): ServiceContext {
  const ctx: ServiceContext = {
    db,
    clock,
    log,
    settings: {
      defaultTimezone: config.defaultTimezone,
      defaultCountry: config.defaultCountry,
      graceDays: config.graceDays,
      publicUrl: config.publicUrl,
      businessName: config.businessName,
      secret,
      saleBatchSize: config.saleBatchSize,
      saleBatchesInFlight: config.saleBatchesInFlight,
    },
  };
  return { ...ctx, saleBatcher: createSaleBatcher(ctx) };
}

/** createProducerRedis returns a client that fails fast when Redis is down (for enqueueing and health checks). */
export function createProducerRedis(config: Config): Redis {
  const redis = new IORedis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // reconnects by itself; readiness reports the outage
  return redis;
}

/** announceAdminKey stores the configured admin key, or creates the first one and prints it once. */
export async function announceAdminKey(config: Config, db: Database): Promise<void> {
  const created = await ensureAdminKey(db, config.adminKey);
  if (created) {
    process.stdout.write(
      `\nRapport created the first admin API key. It is shown only this once; keep it safe:\n\n    ${created}\n\n` +
        'Use it as "Authorization: Bearer <key>", and create other keys with POST /v1/keys.\n\n',
    );
  }
}

/** announceFirstManagerLink prints, on the first start of a database only, a sign-in link for the first manager. */
export async function announceFirstManagerLink(config: Config, ctx: ServiceContext): Promise<void> {
  const link = await firstManagerLink(ctx, config.firstManagerEmail);
  if (!link) return;
  process.stdout.write(
    `\nSign in to the staff console as ${link.staff.name} <${link.staff.email}> with this one-time link ` +
      `(valid 24 hours):\n\n    ${link.url}\n\n` +
      'Later, anyone on the staff asks for a link on the sign-in page, or run: npm run console:link -- EMAIL\n\n',
  );
}

/** onShutdown runs `close` once on SIGTERM or SIGINT, then exits. */
export function onShutdown(log: Logger, close: () => Promise<void>): void {
  let closing = false;
  const handler = (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    close()
      .then(() => process.exit(0))
      .catch((err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}
