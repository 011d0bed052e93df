/** API keys (stored as hashes), idempotency records, settings and the audit trail. */
import { sql } from 'kysely';
import type { Database } from '../database';
import type { ApiRole } from '../../domain/types';

/** ApiKey is a key's identity and role, never its secret. */
export interface ApiKey {
  id: string;
  name: string;
  role: ApiRole;
  prefix: string;
  staffId: string | null;
  createdAt: Date;
}

/** insertApiKey stores a key by its hash. */
export async function insertApiKey(
  db: Database,
  k: { name: string; role: ApiRole; keyHash: string; prefix: string; staffId?: string | null },
): Promise<ApiKey> {
  const row = await db
    .insertInto('apiKeys')
    .values({ name: k.name, role: k.role, keyHash: k.keyHash, prefix: k.prefix, staffId: k.staffId ?? null })
    .returning(['id', 'name', 'role', 'prefix', 'staffId', 'createdAt'])
    .executeTakeFirstOrThrow();
  return { ...row, role: row.role as ApiRole };
}

/**
 * storeEnvAdminKey makes the key of RAPPORT_ADMIN_KEY the one live key from the environment: any other key that came
 * from it is revoked, and this one is stored or, if it was revoked, made live again. Returns the ids revoked.
 */
export async function storeEnvAdminKey(
  db: Database,
  k: { keyHash: string; prefix: string; at: Date },
): Promise<{ revoked: string[]; restored: boolean }> {
  return db.transaction().execute(async (trx) => {
    const revoked = await trx
      .updateTable('apiKeys')
      .set({ revokedAt: k.at })
      .where('fromEnv', '=', true)
      .where('keyHash', '<>', k.keyHash)
      .where('revokedAt', 'is', null)
      .returning('id')
      .execute();
    const before = await trx
      .selectFrom('apiKeys')
      .select(['revokedAt', 'fromEnv'])
      .where('keyHash', '=', k.keyHash)
      .executeTakeFirst();
    await trx
      .insertInto('apiKeys')
      .values({ name: 'RAPPORT_ADMIN_KEY', role: 'admin', keyHash: k.keyHash, prefix: k.prefix, fromEnv: true })
      .onConflict((oc) =>
        oc.column('keyHash').doUpdateSet({ revokedAt: null, prefix: k.prefix }).where('apiKeys.fromEnv', '=', true),
      )
      .execute();
    return { revoked: revoked.map((r) => r.id), restored: Boolean(before?.fromEnv && before.revokedAt) };
  });
}

/** findApiKeyByHash returns the live key with this hash, or null; a staff key stops with its staff member's activity. */
export async function findApiKeyByHash(db: Database, keyHash: string): Promise<ApiKey | null> {
  const row = await db
    .selectFrom('apiKeys as k')
    .leftJoin('staff as s', 's.id', 'k.staffId')
    .select(['k.id', 'k.name', 'k.role', 'k.prefix', 'k.staffId', 'k.createdAt'])
    .where('k.keyHash', '=', keyHash)
    .where('k.revokedAt', 'is', null)
    .where((eb) => eb.or([eb('k.staffId', 'is', null), eb('s.active', '=', true)]))
    .executeTakeFirst();
  return row ? { ...row, role: row.role as ApiRole } : null;
}

/** countAdminKeys counts live admin keys. */
export async function countAdminKeys(db: Database): Promise<number> {
  const rows = await db
    .selectFrom('apiKeys')
    .select('id')
    .where('role', '=', 'admin')
    .where('revokedAt', 'is', null)
    .limit(1)
    .execute();
  return rows.length;
}

/** listApiKeys returns every key's identity. */
export async function listApiKeys(db: Database): Promise<ApiKey[]> {
  const rows = await db
    .selectFrom('apiKeys')
    .select(['id', 'name', 'role', 'prefix', 'staffId', 'createdAt'])
    .where('revokedAt', 'is', null)
    .orderBy('createdAt')
    .execute();
  return rows.map((r) => ({ ...r, role: r.role as ApiRole }));
}

/** ApiKeyListed is a key as the console lists it: live or revoked, with its staff member's name. */
export interface ApiKeyListed extends ApiKey {
  revokedAt: Date | null;
  staffName: string | null;
  fromEnv: boolean;
}

/** listAllApiKeys returns every key, live ones first, newest first within each. */
export async function listAllApiKeys(db: Database): Promise<ApiKeyListed[]> {
  const rows = await db
    .selectFrom('apiKeys as k')
    .leftJoin('staff as s', 's.id', 'k.staffId')
    .select(['k.id', 'k.name', 'k.role', 'k.prefix', 'k.staffId', 'k.createdAt', 'k.revokedAt', 'k.fromEnv'])
    .select('s.name as staffName')
    .orderBy(sql`k.revoked_at is not null`)
    .orderBy('k.createdAt', 'desc')
    .execute();
  return rows.map((r) => ({ ...r, role: r.role as ApiRole, staffName: r.staffName ?? null }));
}

/**
 * revokeApiKey revokes a live key unless it is the last live admin key: 'revoked', 'not_found' (no live key has this
 * id) or 'last_admin'. The live admin keys are locked while it decides, so two revokes at once cannot both pass.
 */
export async function revokeApiKey(
  db: Database,
  id: string,
  at: Date,
): Promise<'revoked' | 'not_found' | 'last_admin'> {
  return db.transaction().execute(async (trx) => {
    const key = await trx
      .selectFrom('apiKeys')
      .select(['id', 'role'])
      .where('id', '=', id)
      .where('revokedAt', 'is', null)
      .forUpdate()
      .executeTakeFirst();
    if (!key) return 'not_found';
    if (key.role === 'admin') {
      const admins = await trx
        .selectFrom('apiKeys')
        .select('id')
        .where('role', '=', 'admin')
        .where('revokedAt', 'is', null)
        .orderBy('id')
        .forUpdate()
        .execute();
      if (admins.length <= 1) return 'last_admin';
    }
    await trx.updateTable('apiKeys').set({ revokedAt: at }).where('id', '=', id).execute();
    return 'revoked';
  });
}

/** StoredResponse is the first answer given to an idempotent request. */
export interface StoredResponse {
  requestHash: string;
  statusCode: number;
  response: unknown;
}

/** findIdempotentResponse returns the answer stored for (key, route, Idempotency-Key), or null. */
export async function findIdempotentResponse(
  db: Database,
  apiKeyId: string,
  route: string,
  key: string,
): Promise<StoredResponse | null> {
  const row = await db
    .selectFrom('idempotencyKeys')
    .select(['requestHash', 'statusCode', 'response'])
    .where('apiKeyId', '=', apiKeyId)
    .where('route', '=', route)
    .where('key', '=', key)
    .executeTakeFirst();
  return row ?? null;
}

/** IdempotencyKey names one Idempotency-Key of one API key on one route. */
export interface IdempotencyKey {
  apiKeyId: string;
  route: string;
  key: string;
}

// A claimed key whose request never finished (its process died) is free again after this long.
const ABANDONED_AFTER = sql`interval '60 seconds'`;

/**
 * claimIdempotencyKey marks a key as in progress for a request with this body hash, so a concurrent duplicate waits
 * for nothing and is told so; true when this request may run (the key was free, or its holder was abandoned).
 * A claim is a row with status code 0 until the answer is stored.
 */
export async function claimIdempotencyKey(db: Database, k: IdempotencyKey, requestHash: string): Promise<boolean> {
  const row = await db
    .insertInto('idempotencyKeys')
    .values({ ...k, requestHash, statusCode: 0, response: '{}' })
    .onConflict((oc) =>
      oc
        .columns(['apiKeyId', 'route', 'key'])
        .doUpdateSet({ requestHash, createdAt: sql`now()` })
        .where('idempotencyKeys.statusCode', '=', 0)
        .where('idempotencyKeys.createdAt', '<', sql<Date>`now() - ${ABANDONED_AFTER}`),
    )
    .returning('key')
    .executeTakeFirst();
  return Boolean(row);
}

/** completeIdempotencyKey stores the answer of a claimed key, replayed to every later request with it. */
export async function completeIdempotencyKey(
  db: Database,
  k: IdempotencyKey,
  statusCode: number,
  response: unknown,
): Promise<void> {
  await db
    .updateTable('idempotencyKeys')
    .set({ statusCode, response: JSON.stringify(response) })
    .where('apiKeyId', '=', k.apiKeyId)
    .where('route', '=', k.route)
    .where('key', '=', k.key)
    .where('statusCode', '=', 0)
    .execute();
}

/** releaseIdempotencyKey frees a claimed key whose request failed, so the client may try again with it. */
export async function releaseIdempotencyKey(db: Database, k: IdempotencyKey): Promise<void> {
  await db
    .deleteFrom('idempotencyKeys')
    .where('apiKeyId', '=', k.apiKeyId)
    .where('route', '=', k.route)
    .where('key', '=', k.key)
    .where('statusCode', '=', 0)
    .execute();
}

/** getSetting reads one stored setting. */
async function getSetting(db: Database, key: string): Promise<string | null> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value ?? null;
}

/** purgeIdempotentResponses deletes up to `limit` stored answers created before `before`; returns how many. */
export async function purgeIdempotentResponses(db: Database, before: Date, limit: number): Promise<number> {
  const result = await sql`
    delete from idempotency_keys where ctid in (
      select ctid from idempotency_keys where created_at < ${before} order by created_at limit ${limit}
    )`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** setSettingOnce stores a setting unless one exists, and returns the stored value (the first writer wins). */
export async function setSettingOnce(db: Database, key: string, value: string): Promise<string> {
  await db
    .insertInto('settings')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  return (await getSetting(db, key)) as string;
}

/** AuditEntry is one change to remember: who did what to which thing. */
export interface AuditEntry {
  actor: string;
  action: string;
  entity: string;
  entityId?: string | null;
  detail?: Record<string, unknown>;
  at: Date;
}

/** audit appends entries to the audit trail. */
export async function audit(db: Database, ...entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db
    .insertInto('auditLog')
    .values(
      entries.map((e) => ({
        actor: e.actor,
        action: e.action,
        entity: e.entity,
        entityId: e.entityId ?? null,
        detail: JSON.stringify(e.detail ?? {}),
        at: e.at,
      })),
    )
    .execute();
}
