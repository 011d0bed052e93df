/** The Kysely instance over a pg pool, and creating the database itself when it does not exist yet. */
import { CamelCasePlugin, Kysely, PostgresDialect } from 'kysely';
import { Pool, Client } from 'pg';
import type { DB } from './types';

/** Database is the typed Kysely handle; repositories take it (or a transaction) as first argument. */
export type Database = Kysely<DB>;

/** createDatabase opens a pool of `max` connections to `url`. */
export function createDatabase(url: string, max = 10): Database {
  const pool = new Pool({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined); // an idle client lost with a Postgres restart is replaced on next use
  // A connection lost while checked out (between a transaction's statements, say, when Postgres restarts) emitted an
  // 'error' nobody listened to, which ended the process. Now its next query fails, as the caller expects of a lost
  // connection, and the pool drops it when it is released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }), plugins: [new CamelCasePlugin()] });
}

/** ensureDatabaseExists creates the database named in `url` when absent, connecting to the `postgres` database. */
export async function ensureDatabaseExists(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!name) return false;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount) return false;
    await client.query(`create database "${name.replace(/"/g, '""')}"`);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === '42P04') return false; // created concurrently
    throw err;
  } finally {
    await client.end();
  }
}
