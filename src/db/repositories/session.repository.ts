/** The console's sign-in links and staff sessions, both kept by the hash of their random token. */
import type { Database } from '../database';
import { toStaff, type StaffMember } from './staff.repository';

/** insertSignInLink stores a link's hash for a staff member until `expiresAt`. */
export async function insertSignInLink(
  db: Database,
  l: { tokenHash: string; staffId: string; at: Date; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto('signInLinks')
    .values({ tokenHash: l.tokenHash, staffId: l.staffId, createdAt: l.at, expiresAt: l.expiresAt })
    .execute();
}

/** findLiveSignInLink returns the staff member of an unused, unexpired link whose owner is active, or null. */
export async function findLiveSignInLink(db: Database, tokenHash: string, now: Date): Promise<StaffMember | null> {
  const row = await db
    .selectFrom('signInLinks as l')
    .innerJoin('staff as s', 's.id', 'l.staffId')
    .selectAll('s')
    .where('l.tokenHash', '=', tokenHash)
    .where('l.usedAt', 'is', null)
    .where('l.expiresAt', '>', now)
    .where('s.active', '=', true)
    .executeTakeFirst();
  return row ? toStaff(row) : null;
}

/** consumeSignInLink marks a live link used and returns its staff id; null when used, expired or unknown (one winner). */
export async function consumeSignInLink(db: Database, tokenHash: string, now: Date): Promise<string | null> {
  const row = await db
    .updateTable('signInLinks')
    .set({ usedAt: now })
    .where('tokenHash', '=', tokenHash)
    .where('usedAt', 'is', null)
    .where('expiresAt', '>', now)
    .returning('staffId')
    .executeTakeFirst();
  return row?.staffId ?? null;
}

/** deleteExpiredSignInLinks removes links that expired before `before`; returns how many. */
export async function deleteExpiredSignInLinks(db: Database, before: Date): Promise<number> {
  const r = await db.deleteFrom('signInLinks').where('expiresAt', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** insertSession stores a new session and returns its id. */
export async function insertSession(
  db: Database,
  s: { tokenHash: string; staffId: string; at: Date; expiresAt: Date; userAgent: string | null },
): Promise<string> {
  const row = await db
    .insertInto('staffSessions')
    .values({
      tokenHash: s.tokenHash,
      staffId: s.staffId,
      createdAt: s.at,
      lastSeenAt: s.at,
      expiresAt: s.expiresAt,
      userAgent: s.userAgent,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** LiveSession is a session that may be used now, with its staff member. */
export interface LiveSession {
  id: string;
  lastSeenAt: Date;
  staff: StaffMember;
}

/**
 * findLiveSession returns the session with this hash when it is not revoked, not past its end, seen since
 * `idleSince`, and its staff member is active; else null. Deactivating someone therefore ends their sessions at once.
 */
export async function findLiveSession(
  db: Database,
  tokenHash: string,
  now: Date,
  idleSince: Date,
): Promise<LiveSession | null> {
  const row = await db
    .selectFrom('staffSessions as x')
    .innerJoin('staff as s', 's.id', 'x.staffId')
    .selectAll('s')
    .select(['x.id as sessionId', 'x.lastSeenAt'])
    .where('x.tokenHash', '=', tokenHash)
    .where('x.revokedAt', 'is', null)
    .where('x.expiresAt', '>', now)
    .where('x.lastSeenAt', '>', idleSince)
    .where('s.active', '=', true)
    .executeTakeFirst();
  if (!row) return null;
  const { sessionId, lastSeenAt, ...staff } = row;
  return { id: sessionId, lastSeenAt, staff: toStaff(staff) };
}

/** touchSession moves a session's idle clock to `at`. */
export async function touchSession(db: Database, id: string, at: Date): Promise<void> {
  await db.updateTable('staffSessions').set({ lastSeenAt: at }).where('id', '=', id).execute();
}

/** revokeSession ends one session. */
export async function revokeSession(db: Database, id: string, at: Date): Promise<void> {
  await db
    .updateTable('staffSessions')
    .set({ revokedAt: at })
    .where('id', '=', id)
    .where('revokedAt', 'is', null)
    .execute();
}

/** revokeSessionsOf ends every live session of a staff member; returns how many. */
export async function revokeSessionsOf(db: Database, staffId: string, at: Date): Promise<number> {
  const r = await db
    .updateTable('staffSessions')
    .set({ revokedAt: at })
    .where('staffId', '=', staffId)
    .where('revokedAt', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}
