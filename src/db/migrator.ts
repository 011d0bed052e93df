/** Applies the SQL files of migrations/ in name order with Kysely's migrator (which locks against concurrent runs). */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/** MIGRATIONS_DIR is the repository's migrations folder, found from src/, dist/ and dist-bench/src/ (the benches). */
export const MIGRATIONS_DIR = [path.resolve(__dirname, '..', '..', 'migrations')]
  .concat(path.resolve(__dirname, '..', '..', '..', 'migrations'))
  .find((dir) => existsSync(dir))!;

class SqlFileProvider implements MigrationProvider {
  constructor(private readonly dir: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await fs.readdir(this.dir)).filter((f) => f.endsWith('.sql')).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const text = await fs.readFile(path.join(this.dir, file), 'utf8');
      migrations[file.replace(/\.sql$/, '')] = {
        up: async (db) => {
          await sql.raw(text).execute(db);
        },
      };
    }
    return migrations;
  }
}

/** migrateToLatest applies every pending migration and returns the names applied; throws on the first failure. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator runs before any table type exists
export async function migrateToLatest(db: Kysely<any>, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new SqlFileProvider(dir) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
