/** Helpers the benchmarks share: scratch databases on the bench's Postgres server, and a process's CPU time. */
import { readFileSync } from 'node:fs';
import { Client } from 'pg';

/** databaseUrl returns `base` pointing at database `name`. */
export function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** dropDatabase drops a scratch database, disconnecting whoever is still on it. */
export async function dropDatabase(base: string, name: string): Promise<void> {
  const admin = new Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
}

/** cpuSeconds reads the user + system CPU time a process has used, in seconds (clock ticks of 1/100 s); NaN if gone. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}
