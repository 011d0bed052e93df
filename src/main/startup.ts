/** Start-up checks shared by the entry points: configuration, reachability of Postgres and Redis, migrations. */
import IORedis from 'ioredis';
import pino from 'pino';
import { ConfigError, loadConfig, type Config } from '../config';
import { createDatabase, ensureDatabaseExists, type Database } from '../db/database';
import { migrateToLatest } from '../db/migrator';
import { createLogger, type Logger } from '../logger';

/** StartupError is a problem a person must fix before the process can run; it prints as one line. */
export class StartupError extends Error {}

function hostOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || (u.protocol.startsWith('redis') ? 6379 : 5432)}`;
}

/** loadConfigOrExit returns the config, or prints the one bad variable and exits with status 1. */
export function loadConfigOrExit(): Readonly<Config> {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`rapport: configuration error: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** connectPostgres creates the database if needed, optionally migrates, and returns the handle; explains failure. */
export async function connectPostgres(config: Config, log: Logger, migrate: boolean, poolSize = 10): Promise<Database> {
  try {
    if (await ensureDatabaseExists(config.databaseUrl))
      log.info({ db: hostOf(config.databaseUrl) }, 'created the database');
  } catch (err) {
    throw new StartupError(
      `cannot reach PostgreSQL at ${hostOf(config.databaseUrl)} (${(err as Error).message}). ` +
        'Start it with `pg_ctlcluster 15 main start` (Debian package postgresql) or `docker compose up -d postgres`, ' +
        'or set DATABASE_URL.',
    );
  }
  const db = createDatabase(config.databaseUrl, poolSize);
  if (migrate) {
    const applied = await migrateToLatest(db);
    if (applied.length) log.info({ applied }, 'applied migrations');
  }
  return db;
}

/** checkRedis pings Redis once and explains how to start it when it cannot be reached. */
export async function checkRedis(config: Config): Promise<void> {
  const redis = new IORedis(config.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new StartupError(
      `cannot reach Redis at ${hostOf(config.redisUrl)} (${(err as Error).message}). ` +
        'Start it with `redis-server --daemonize yes` (Debian package redis-server) or `docker compose up -d redis`, ' +
        'or set REDIS_URL.',
    );
  } finally {
    redis.disconnect();
  }
}

/** runMain runs an entry point, printing a StartupError as one line and exiting 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err) => {
    if (err instanceof StartupError) process.stderr.write(`rapport: ${err.message}\n`);
    else pino().fatal({ err }, 'fatal error');
    process.exit(1);
  });
}

export { createLogger };
