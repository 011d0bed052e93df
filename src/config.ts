/**
 * Configuration: read from the environment once, validated, frozen. Nothing else reads process.env.
 * A wrong value throws a ConfigError naming the variable; the entry point prints it as one line and exits.
 */
import { isValidZone } from './domain/schedule';
import type { IdentityDefaults } from './services/business-identity.service';

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
  /** The business's identity as the environment gives it; what a manager saves in Postgres overrides each field. */
  identity: IdentityDefaults;
  /** Earlier values of RAPPORT_SECRET whose customer links are still accepted (RAPPORT_SECRET_PREVIOUS). */
  previousSecrets: string[];
  graceDays: number;
  logLevel: string;
  workerConcurrency: number;
  /** SMTP connections the email channel keeps open at most (its pool). */
  smtpMaxConnections: number;
  /** How long a worker may take to deliver one touch before another may take it over (send lease and job lock). */
  leaseMs: number;
  /** A queued touch older than this with no live lease is assumed lost from Redis and queued again. */
  requeueAfterMs: number;
  /** Paper size of every letter (RAPPORT_PAPER); null chooses by the destination country (Letter for US and CA). */
  paper: 'A4' | 'Letter' | null;
  /**
   * RAPPORT_ENV: `production` (the default) or `development`. Development only relaxes what a laptop lacks: a link
   * secret generated into the database, plain SMTP, an http PUBLIC_URL on another host.
   */
  env: 'development' | 'production';
  /** Where the first generated admin key is written (mode 0600), never to the log. */
  adminKeyFile: string;
  /** Fastify's trustProxy: false, true, a hop count, or a list of addresses/CIDRs of the proxies. */
  trustProxy: boolean | number | string[];
  /** Bearer token for /metrics and the detailed /readyz; without one, /metrics is off. */
  metricsToken: string | null;
  /** Most ms a whole request may take (a 2 GiB import must arrive within it). */
  requestTimeoutMs: number;
  /** Most ms a connection may stay idle. */
  connectionTimeoutMs: number;
  /** Refuse an smtp:// server that does not offer STARTTLS (SMTP_ALLOW_PLAINTEXT=true lifts it). */
  smtpRequireTls: boolean;
  /** Requests per minute per API key on /v1 (0: no limit). */
  rateLimitPerKey: number;
  /** Requests per minute per client address on the customer pages /p and /u (0: no limit). */
  rateLimitPerIp: number;
  /** Bytes one API key may upload as imports in any 24 hours. */
  importQuotaBytes: number;
  /** The first manager's email, made a manager on the first start if there is none (its sign-in link is printed). */
  firstManagerEmail: string;
}

/** ConfigError names the environment variable that is wrong. */
export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

/** redactUrl hides the password of a URL (also of one that does not parse), for messages and logs. */
export function redactUrl(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#:@]*):[^/?#]*@/i, '$1:***@');
}

function url(env: Env, name: string, protocols: string[], fallback?: string): string {
  const value = env[name] || fallback;
  if (!value) throw new ConfigError(`${name} is required`);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(`${name} is not a valid URL: "${redactUrl(value)}"`);
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

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function runEnv(env: Env): 'development' | 'production' {
  const value = env.RAPPORT_ENV || 'production';
  if (value !== 'development' && value !== 'production')
    throw new ConfigError(`RAPPORT_ENV must be development or production, got "${value}"`);
  return value;
}

function trustProxy(env: Env): boolean | number | string[] {
  const raw = (env.TRUST_PROXY ?? '').trim();
  if (raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const list = raw.split(',').map((s) => s.trim());
  if (list.some((a) => !/^[0-9a-f.:]+(\/\d{1,3})?$/i.test(a)))
    throw new ConfigError(`TRUST_PROXY must be true, false, a hop count or a comma-separated list of IPs/CIDRs`);
  return list;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

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

function paper(env: Env, name: string): 'A4' | 'Letter' | null {
  const value = env[name];
  if (!value) return null;
  if (value !== 'A4' && value !== 'Letter') throw new ConfigError(`${name} must be A4 or Letter, got "${value}"`);
  return value;
}

function identity(env: Env): IdentityDefaults {
  const lines = (env.RAPPORT_BUSINESS_ADDRESS ?? '')
    .split(/[;|\n]/)
    .map((l) => l.trim())
    .filter(Boolean);
  const country = (env.RAPPORT_BUSINESS_COUNTRY ?? '').trim().toUpperCase();
  if (lines.length && !/^[A-Z]{2}$/.test(country))
    throw new ConfigError(
      'RAPPORT_BUSINESS_COUNTRY must be a two-letter country code (e.g. AU) with RAPPORT_BUSINESS_ADDRESS',
    );
  return {
    name: env.RAPPORT_BUSINESS_NAME?.trim() || null,
    address: lines.length ? { lines, country } : null,
    phone: env.RAPPORT_BUSINESS_PHONE?.trim() || null,
    website: env.RAPPORT_BUSINESS_WEBSITE?.trim() || null,
    emailFrom: env.RAPPORT_MAIL_FROM?.trim() || null,
  };
}

/** loadConfig validates `env` and returns a frozen Config, or throws a ConfigError naming the bad variable. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const runAs = runEnv(env);
  const development = runAs === 'development';
  const port = int(env, 'PORT', 3000, 0, 65535);
  const publicUrl = url(env, 'PUBLIC_URL', ['http:', 'https:'], `http://localhost:${port}`).replace(/\/$/, '');
  // Customer links and sign-in links travel in this URL: in clear text they can be read on the way.
  if (!development && publicUrl.startsWith('http:') && !LOOPBACK.has(new URL(publicUrl).hostname))
    throw new ConfigError('PUBLIC_URL must be https:// outside localhost (or set RAPPORT_ENV=development)');
  const secret = optionalSecret(env, 'RAPPORT_SECRET', 32);
  // A secret generated into the database would let anyone holding a backup forge every customer link.
  if (!development && !secret)
    throw new ConfigError(
      'RAPPORT_SECRET is required (32+ random characters, e.g. `openssl rand -base64 32`); ' +
        'for a local try set RAPPORT_ENV=development (`npm run dev`)',
    );
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
    adminKey: optionalSecret(env, 'RAPPORT_ADMIN_KEY', 32),
    secret,
    defaultTimezone: zone(env, 'DEFAULT_TIMEZONE'),
    defaultCountry: country(env, 'DEFAULT_COUNTRY'),
    identity: identity(env),
    previousSecrets: (env.RAPPORT_SECRET_PREVIOUS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => {
        if (s !== '' && s.length < 32)
          throw new ConfigError('RAPPORT_SECRET_PREVIOUS must list secrets of at least 32 characters each');
        return s !== '';
      }),
    graceDays: int(env, 'RAPPORT_GRACE_DAYS', 14, 0, 3650),
    logLevel: env.LOG_LEVEL || 'info',
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 64, 1, 1000),
    smtpMaxConnections: int(env, 'SMTP_MAX_CONNECTIONS', 10, 1, 100),
    leaseMs: int(env, 'RAPPORT_LEASE_MS', 120_000, 1000, 3_600_000),
    requeueAfterMs: int(env, 'RAPPORT_REQUEUE_AFTER_MS', 300_000, 1000, 86_400_000),
    paper: paper(env, 'RAPPORT_PAPER'),
    env: runAs,
    adminKeyFile: env.RAPPORT_ADMIN_KEY_FILE || 'rapport-admin-key',
    trustProxy: trustProxy(env),
    metricsToken: optionalSecret(env, 'RAPPORT_METRICS_TOKEN', 16),
    requestTimeoutMs: int(env, 'HTTP_REQUEST_TIMEOUT_MS', 30 * 60_000, 1000, 24 * 3_600_000),
    connectionTimeoutMs: int(env, 'HTTP_CONNECTION_TIMEOUT_MS', 60_000, 1000, 3_600_000),
    smtpRequireTls: !flag(env, 'SMTP_ALLOW_PLAINTEXT', development),
    rateLimitPerKey: int(env, 'RAPPORT_RATE_LIMIT_PER_KEY', 60_000, 0, 100_000_000),
    rateLimitPerIp: int(env, 'RAPPORT_RATE_LIMIT_PER_IP', 60, 0, 100_000_000),
    importQuotaBytes: int(env, 'RAPPORT_IMPORT_QUOTA_BYTES', 10 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
    firstManagerEmail: email(env, 'RAPPORT_MANAGER_EMAIL', `manager@${new URL(publicUrl).hostname}`),
  });
}
