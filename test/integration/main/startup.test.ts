/**
 * The entry points as a newcomer meets them: `npm run dev` (RAPPORT_ENV=development) with no other configuration
 * creates the database, migrates, writes an admin key once to a private file and serves; a bad setting, a missing
 * secret outside development or an unreachable service stops it with one clear line.
 */
import { spawn } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { uniqueName } from '../../helpers/database';
import { waitFor } from '../../helpers/wait';
import { deleteRedisPrefix } from '../../helpers/worker';

const ROOT = path.resolve(__dirname, '../../..');
const ALL = path.join(ROOT, 'dist/main/all.js');

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, [ALL], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } });
  const run: Run = { stdout: '', stderr: '', code: null };
  child.stdout.on('data', (d) => (run.stdout += d));
  child.stderr.on('data', (d) => (run.stderr += d));
  const exited = new Promise<Run>((resolve) => child.on('exit', (code) => resolve({ ...run, code })));
  return { child, run, exited };
}

async function dropDatabase(name: string) {
  const admin = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
}

it('starts in development with no other configuration: creates the database, writes the admin key to a private file, serves', async () => {
  const db = uniqueName('rapport_test_start');
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const keyFile = `/tmp/${db}-admin-key`;
  const env = {
    RAPPORT_ENV: 'development',
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
    PORT: port,
    REDIS_PREFIX: db,
    RAPPORT_OUTBOX_DIR: `/tmp/${db}`,
    RAPPORT_ADMIN_KEY_FILE: keyFile,
  };
  try {
    const first = start(env);
    await waitFor(() => first.run.stdout.includes('API listening'), 'the API to listen', 30_000);
    expect(first.run.stdout).toContain(`wrote it to ${keyFile}`);
    expect(first.run.stdout).not.toContain('rk_admin_'); // never in the log
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const key = (await readFile(keyFile, 'utf8')).trim();
    expect(key).toMatch(/^rk_admin_/);
    const res = await fetch(`http://127.0.0.1:${port}/v1/segments`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);

    const second = start(env);
    await waitFor(() => second.run.stdout.includes('API listening'), 'the API to listen again', 30_000);
    expect(second.run.stdout).not.toContain('rk_admin_'); // shown only once
    second.child.kill('SIGTERM');
    await second.exited;
  } finally {
    await dropDatabase(db);
    await deleteRedisPrefix(db);
    await rm(keyFile, { force: true });
  }
}, 90_000);

it('outside development, refuses to start without RAPPORT_SECRET, saying how to try it locally', async () => {
  const run = await start({}).exited;
  expect(run.code).toBe(1);
  expect(run.stderr.trim()).toMatch(/^rapport: configuration error: RAPPORT_SECRET is required .*npm run dev/);
});

it('stops with one line naming a bad variable', async () => {
  const { exited } = start({ PORT: 'eighty' });
  const run = await exited;
  expect(run.code).toBe(1);
  expect(run.stderr.trim()).toBe('rapport: configuration error: PORT must be an integer from 0 to 65535, got "eighty"');
});

it('says which service cannot be reached, where, and how to start it', async () => {
  const pg = await start({ RAPPORT_ENV: 'development', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/rapport' })
    .exited;
  expect(pg.code).toBe(1);
  expect(pg.stderr).toMatch(/cannot reach PostgreSQL at 127\.0\.0\.1:1 .*pg_ctlcluster.*docker compose up -d postgres/);

  const db = uniqueName('rapport_test_noredis');
  try {
    const redis = await start({
      RAPPORT_ENV: 'development',
      DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${db}`,
      REDIS_URL: 'redis://127.0.0.1:1',
    }).exited;
    expect(redis.code).toBe(1);
    expect(redis.stderr).toMatch(/cannot reach Redis at 127\.0\.0\.1:1 .*redis-server.*docker compose up -d redis/);
  } finally {
    await dropDatabase(db);
  }
}, 60_000);
