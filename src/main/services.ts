/** Building the shared parts of a process: the service context, the admin key and secret, and a Redis client. */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import IORedis, { type Redis } from 'ioredis';
import type { Config } from '../config';
import { systemClock, type Clock } from '../clock';
import type { Database } from '../db/database';
import type { Logger } from '../logger';
import type { ServiceContext } from '../services/context';
import { ensureAdminKey } from '../services/auth.service';
import { createSaleBatcher } from '../services/sale.service';
import { getBusinessIdentity, identityWarnings, sendsHeldReason } from '../services/business-identity.service';
import { listSegments } from '../services/segment.service';
import { stepsOnDefaultWording } from '../services/preview.service';
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
      identity: config.identity,
      secret,
      previousSecrets: config.previousSecrets,
      letterPaper: config.paper,
      saleBatchSize: config.saleBatchSize,
      saleBatchesInFlight: config.saleBatchesInFlight,
      importQuotaBytes: config.importQuotaBytes,
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

/**
 * announceAdminKey stores the configured admin key, or creates the first one and writes it to a file only its owner
 * can read (logs are collected and kept; a key in them would be readable by whoever reads the logs).
 */
export async function announceAdminKey(config: Config, db: Database, clock: Clock = systemClock): Promise<void> {
  const created = await ensureAdminKey(db, config.adminKey, clock.now());
  if (!created) return;
  const file = path.resolve(config.adminKeyFile);
  // A file left by an earlier database is replaced, never reused: 'wx' creates it afresh with mode 0600.
  await rm(file, { force: true });
  await writeFile(file, `${created}\n`, { mode: 0o600, flag: 'wx' });
  process.stdout.write(
    `\nRapport created the first admin API key and wrote it to ${file} (readable only by you).\n` +
      'Use it as "Authorization: Bearer <key>", create other keys with POST /v1/keys, then delete the file.\n\n',
  );
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

/**
 * announceIdentity warns, at start, of every identity field still unset and of the mail steps going out on default
 * wording (an empty content block), and says when customer-facing sends are held for want of a business name.
 */
export async function announceIdentity(ctx: ServiceContext): Promise<void> {
  const identity = await getBusinessIdentity(ctx);
  for (const warning of identityWarnings(identity)) ctx.log.warn({ setting: 'business' }, warning);
  const held = sendsHeldReason(identity);
  if (held) ctx.log.warn({ held: ['email', 'letter', 'newsletter'] }, `customer-facing sends are held: ${held}`);
  for (const segment of await listSegments(ctx)) {
    const steps = stepsOnDefaultWording(segment);
    if (steps.length)
      ctx.log.warn(
        { segment: segment.name, steps },
        `segment "${segment.name}": steps ${steps.join(', ')} go out on default wording until its content blocks are written`,
      );
  }
}
