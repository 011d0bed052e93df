/** API keys: created with a role, shown once, stored as a SHA-256 hash; the first admin key from the environment. */
import { createHash, randomBytes } from 'node:crypto';
import type { ApiRole } from '../domain/types';
import * as access from '../db/repositories/access.repository';
import { findStaffById } from '../db/repositories/staff.repository';
import type { Database } from '../db/database';
import { AppError, ConflictError, NotFoundError, ValidationError } from './errors';
import type { ServiceContext } from './context';

/** ApiKey is a stored key: its id, role, name and staff member (never the secret). */
export type ApiKey = access.ApiKey;

/** hashKey is how keys are stored and looked up. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** generateKey returns a new random key whose prefix shows its role, e.g. "rk_admin_…". */
export function generateKey(role: ApiRole): string {
  return `rk_${role}_${randomBytes(24).toString('base64url')}`;
}

/**
 * KEY_CACHE_MS is how long a key found live is trusted without asking the database again: every request is
 * authenticated, and a point-of-sale system posting sales paid one extra round trip per sale for it. A revoke in
 * this process takes effect at once (revokeApiKey clears the cache); other processes see it within this time.
 */
export const KEY_CACHE_MS = 5000;

/** KEY_CACHE_MAX bounds the cache; it is emptied when full (only live keys are cached, so it stays small). */
const KEY_CACHE_MAX = 1000;

/**
 * KeyCache is one database handle's live keys by hash. `generation` changes with every revoke, so a look-up that
 * began before a revoke (and may have read the key while it was still live) does not cache it afterwards.
 */
interface KeyCache {
  keys: Map<string, { key: access.ApiKey; until: number }>;
  generation: number;
}

/** keyCaches holds each database handle's KeyCache, made on first use (no module-level handle). */
const keyCaches = new WeakMap<Database, KeyCache>();

function keyCacheOf(db: Database): KeyCache {
  let cache = keyCaches.get(db);
  if (!cache) keyCaches.set(db, (cache = { keys: new Map(), generation: 0 }));
  return cache;
}

/** authenticate returns the live key matching a bearer token, or throws `unauthorized`. */
export async function authenticate(db: Database, header: string | undefined): Promise<access.ApiKey> {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match)
    throw new AppError('unauthorized', 'Authorization: a "Bearer <key>" header is required', {
      field: 'Authorization',
    });
  const hash = hashKey(match[1]);
  const cache = keyCacheOf(db);
  // A monotonic clock: this is an expiry, not business time, and must not jump with the wall clock.
  const at = performance.now();
  const cached = cache.keys.get(hash);
  if (cached && cached.until > at) return cached.key;
  const generation = cache.generation;
  const key = await access.findApiKeyByHash(db, hash);
  if (!key) {
    cache.keys.delete(hash);
    throw new AppError('unauthorized', 'Authorization: the key is unknown or revoked', { field: 'Authorization' });
  }
  if (cache.generation !== generation) return key;
  if (cache.keys.size >= KEY_CACHE_MAX) cache.keys.clear();
  cache.keys.set(hash, { key, until: at + KEY_CACHE_MS });
  return key;
}

/** createApiKey makes a key for `role` (a staff key belongs to one staff member) and returns it with its secret, once. */
export async function createApiKey(
  db: Database,
  input: { name: string; role: ApiRole; staffId?: string },
): Promise<{ key: string; apiKey: access.ApiKey }> {
  if (input.role === 'staff' && !input.staffId) throw new ValidationError('staffId', 'is required for a staff key');
  if (input.staffId && !(await findStaffById(db, input.staffId)))
    throw new ValidationError('staffId', 'no such staff member');
  const key = generateKey(input.role);
  const apiKey = await access.insertApiKey(db, {
    name: input.name,
    role: input.role,
    keyHash: hashKey(key),
    prefix: key.slice(0, 12),
    staffId: input.staffId,
  });
  return { key, apiKey };
}

/** ENV_KEY_PREFIX_LENGTH is how much of RAPPORT_ADMIN_KEY is kept in clear, to recognise it in a list of keys. */
export const ENV_KEY_PREFIX_LENGTH = 6;

/**
 * ensureAdminKey makes sure an admin key exists. The configured one (RAPPORT_ADMIN_KEY) is stored by hash with a
 * short prefix; a different key that came from the variable before is revoked, and a revoked one set again is live
 * again. With none configured and no admin key stored, a new key is created and returned for the caller to hand over.
 */
export async function ensureAdminKey(db: Database, configured: string | null, at: Date): Promise<string | null> {
  if (configured) {
    const { revoked, restored } = await access.storeEnvAdminKey(db, {
      keyHash: hashKey(configured),
      prefix: configured.slice(0, ENV_KEY_PREFIX_LENGTH),
      at,
    });
    const actor = 'config:RAPPORT_ADMIN_KEY';
    await access.audit(
      db,
      ...revoked.map((id) => ({ actor, action: 'api_key.revoked', entity: 'api_key', entityId: id, at })),
      ...(restored ? [{ actor, action: 'api_key.restored', entity: 'api_key', at }] : []),
    );
    if (revoked.length) {
      const cache = keyCacheOf(db);
      cache.keys.clear();
      cache.generation++;
    }
    return null;
  }
  if ((await access.countAdminKeys(db)) > 0) return null;
  return (await createApiKey(db, { name: 'first admin key', role: 'admin' })).key;
}

/**
 * ensureSecret returns the configured secret, else (development only: the configuration requires one otherwise) the
 * one kept in the database, generating it the first time.
 */
export async function ensureSecret(db: Database, configured: string | null): Promise<string> {
  return configured ?? access.setSettingOnce(db, 'rapport_secret', randomBytes(32).toString('base64url'));
}

/** issueApiKey creates a key for an admin's request and records who made it (never the key itself). */
export async function issueApiKey(
  ctx: ServiceContext,
  input: { name: string; role: ApiRole; staffId?: string },
  actor: string,
): Promise<{ key: string; apiKey: access.ApiKey }> {
  const created = await createApiKey(ctx.db, input);
  await access.audit(ctx.db, {
    actor,
    action: 'api_key.created',
    entity: 'api_key',
    entityId: created.apiKey.id,
    detail: { role: input.role },
    at: ctx.clock.now(),
  });
  return created;
}

/** listApiKeys returns every live key's identity, never a secret. */
export function listApiKeys(ctx: ServiceContext): Promise<access.ApiKey[]> {
  return access.listApiKeys(ctx.db);
}

/** listAllApiKeys returns every key, revoked ones too (with when), for the console's list; never a secret. */
export function listAllApiKeys(ctx: ServiceContext): Promise<access.ApiKeyListed[]> {
  return access.listAllApiKeys(ctx.db);
}

/**
 * forgetCachedKeys empties this process's key cache, after a revoke or a staff member's deactivation (rare: forgetting
 * every cached key is simpler than finding the ones concerned).
 */
export function forgetCachedKeys(db: Database): void {
  const cache = keyCacheOf(db);
  cache.keys.clear();
  cache.generation++;
}

/**
 * revokeApiKey revokes a key for good and records who did, or throws not_found. The key making the request and the
 * last live admin key are refused (409): either would lock its admin out.
 */
export async function revokeApiKey(
  ctx: ServiceContext,
  id: string,
  caller: { keyId: string | undefined; actor: string },
): Promise<void> {
  const now = ctx.clock.now();
  if (id === caller.keyId)
    throw new ConflictError('id: this is the key making the request; revoke it with another admin key', {
      field: 'id',
      reason: 'own_key',
    });
  const outcome = await access.revokeApiKey(ctx.db, id, now);
  if (outcome === 'not_found') throw new NotFoundError('key', id);
  if (outcome === 'last_admin')
    throw new ConflictError('id: this is the last live admin key; create another admin key first', {
      field: 'id',
      reason: 'last_admin_key',
    });
  forgetCachedKeys(ctx.db);
  await access.audit(ctx.db, {
    actor: caller.actor,
    action: 'api_key.revoked',
    entity: 'api_key',
    entityId: id,
    at: now,
  });
}
