/**
 * Configuration: read from the environment once, validated, frozen. Nothing else reads process.env.
 * A wrong value throws a ConfigError naming the variable; the entry point prints it as one line and exits.
 */
import { isValidZone } from './domain/schedule';

/** Config is the validated settings of one process. */
export interface Config {
  databaseUrl: string;
  /** Connections in this process's Postgres pool. */
  databasePoolSize: number;
  /** Most sales by new customers recorded together in one transaction (0: every sale on its own). */
  saleBatchSize: number;
  /** Most batches of sales written at once, each holding a pool connection; always fewer than the pool's size. */
  saleBatchesInFlight: number;
  redisUrl: string;
  /** Queue key prefix in Redis, so several deployments (or test files) can share one server. */
  redisPrefix: string;
  /** SMTP server URL; when absent, emails are written as .eml files to `outboxDir`. */
  smtpUrl: string | null;
  outboxDir: string;
  port: number;
  host: string;
  publicUrl: string;
  adminKey: string | null;
  secret: string | null;
  defaultTimezone: string;
  /** ISO 3166-1 alpha-2 country a phone without a country code is read in, when the customer's is unknown. */
  defaultCountry: string | null;
  businessName: string;
  /** The From address of every email. */
  mailFrom: string;
  graceDays: number;
  logLevel: string;
  workerConcurrency: number;
  /** SMTP connections the email channel keeps open at most (its pool). */
  smtpMaxConnections: number;
  /** How long a worker may take to deliver one touch before another may take it over (send lease and job lock). */
  leaseMs: number;
  /** A queued touch older than this with no live lease is assumed lost from Redis and queued again. */
  requeueAfterMs: number;
  /** Paper size of letters. */
  paper: 'A4' | 'Letter';
  /** The first manager's email, made a manager on the first start if there is none (its sign-in link is printed). */
  firstManagerEmail: string;
}

/** ConfigError names the environment variable that is wrong. */
export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function url(env: Env, name: string, protocols: string[], fallback?: string): string {
  const value = env[name] || fallback;
  if (!value) throw new ConfigError(`${name} is required`);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(`${name} is not a valid URL: "${value}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return value;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function optionalSecret(env: Env, name: string, minLength: number): string | null {
  const value = env[name];
  if (value === undefined || value === '') return null;
  if (value.length < minLength) throw new ConfigError(`${name} must be at least ${minLength} characters long`);
  return value;
}

function email(env: Env, name: string, fallback: string): string {
  const value = (env[name] || fallback).trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(value)) throw new ConfigError(`${name} is not an email address: "${value}"`);
  return value;
}

function zone(env: Env, name: string): string {
  const value = env[name] || 'UTC';
  if (!isValidZone(value)) throw new ConfigError(`${name} is not a known IANA time zone: "${value}"`);
  return value;
}

function country(env: Env, name: string): string | null {
  const value = env[name];
  if (!value) return null;
  if (!/^[A-Z]{2}$/.test(value))
    throw new ConfigError(`${name} must be an ISO 3166-1 alpha-2 code such as AU, got "${value}"`);
  return value;
}

function paper(env: Env, name: string): 'A4' | 'Letter' {
  const value = env[name] || 'A4';
  if (value !== 'A4' && value !== 'Letter') throw new ConfigError(`${name} must be A4 or Letter, got "${value}"`);
  return value;
}

/** loadConfig validates `env` and returns a frozen Config, or throws a ConfigError naming the bad variable. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const port = int(env, 'PORT', 3000, 0, 65535);
  const publicUrl = url(env, 'PUBLIC_URL', ['http:', 'https:'], `http://localhost:${port}`).replace(/\/$/, '');
  const businessName = env.RAPPORT_BUSINESS_NAME || 'Rapport';
  const databasePoolSize = int(env, 'DATABASE_POOL_SIZE', 10, 1, 1000);
  // Batches leave at least one connection to the sales they hand back and to every other request (with a pool of
  // one connection, the single batch shares it).
  const maxInFlight = Math.max(1, databasePoolSize - 1);
  return Object.freeze({
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/rapport'),
    databasePoolSize,
    saleBatchSize: int(env, 'SALE_BATCH_SIZE', 100, 0, 1000),
    saleBatchesInFlight: int(env, 'SALE_BATCHES_IN_FLIGHT', Math.min(2, maxInFlight), 1, maxInFlight),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:'], 'redis://127.0.0.1:6379'),
    redisPrefix: env.REDIS_PREFIX || 'rapport',
    smtpUrl: env.SMTP_URL ? url(env, 'SMTP_URL', ['smtp:', 'smtps:']) : null,
    outboxDir: env.RAPPORT_OUTBOX_DIR || 'outbox',
    port,
    host: env.HOST || '0.0.0.0',
    publicUrl,
    adminKey: optionalSecret(env, 'RAPPORT_ADMIN_KEY', 16),
    secret: optionalSecret(env, 'RAPPORT_SECRET', 32),
    defaultTimezone: zone(env, 'DEFAULT_TIMEZONE'),
    defaultCountry: country(env, 'DEFAULT_COUNTRY'),
    businessName,
    mailFrom: env.RAPPORT_MAIL_FROM || `${businessName} <hello@${new URL(publicUrl).hostname}>`,
    graceDays: int(env, 'RAPPORT_GRACE_DAYS', 14, 0, 3650),
    logLevel: env.LOG_LEVEL || 'info',
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 64, 1, 1000),
    smtpMaxConnections: int(env, 'SMTP_MAX_CONNECTIONS', 10, 1, 100),
    leaseMs: int(env, 'RAPPORT_LEASE_MS', 120_000, 1000, 3_600_000),
    requeueAfterMs: int(env, 'RAPPORT_REQUEUE_AFTER_MS', 300_000, 1000, 86_400_000),
    paper: paper(env, 'RAPPORT_PAPER'),
    firstManagerEmail: email(env, 'RAPPORT_MANAGER_EMAIL', `manager@${new URL(publicUrl).hostname}`),
  });
}
