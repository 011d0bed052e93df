/** A fresh, migrated Postgres database per test file, dropped at the end, so files run in parallel. */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { Client } from 'pg';
import { createDatabase, ensureDatabaseExists, type Database } from '../../src/db/database';
import { migrateToLatest } from '../../src/db/migrator';
import { findTask, type TaskView } from '../../src/db/repositories/task.repository';

const BASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** TestDatabase is a migrated database of its own and the URL to reach it. */
export interface TestDatabase {
  db: Database;
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** uniqueName returns `prefix_` plus random hex, safe as a database name or Redis prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** createTestDatabase creates and migrates a database named after `label`. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = uniqueName(
    `rapport_test_${label
      .replace(/[^a-z0-9]/gi, '')
      .toLowerCase()
      .slice(0, 20)}`,
  );
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  await ensureDatabaseExists(url.toString());
  const db = createDatabase(url.toString(), 5);
  await migrateToLatest(db);
  return {
    db,
    url: url.toString(),
    name,
    async drop() {
      await db.destroy();
      const admin = new Client({ connectionString: BASE_URL });
      await admin.connect();
      await admin.query(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

/** countRows counts a table's rows (tests and benches only: no service needs it). */
export async function countRows(
  db: Database,
  table: 'sales' | 'touches' | 'customers' | 'planRuns' | 'staff' | 'saleItems',
): Promise<number> {
  const { n } = await db
    .selectFrom(table)
    .select(sql<number>`count(*)::int`.as('n'))
    .executeTakeFirstOrThrow();
  return n;
}

/** tasksOfTouch returns every attempt of a call touch's task, first attempt first, as the task views staff see. */
export async function tasksOfTouch(db: Database, touchId: string): Promise<TaskView[]> {
  const rows = await db.selectFrom('tasks').select('id').where('touchId', '=', touchId).orderBy('attempt').execute();
  return Promise.all(rows.map(async (r) => (await findTask(db, r.id))!));
}
