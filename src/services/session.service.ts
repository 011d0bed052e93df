/**
 * Sign-in for people (the staff console): a single-use link emailed to a staff member, valid 15 minutes, whose
 * opening shows a button and whose POST alone consumes it (mail scanners open links); then a session kept in
 * Postgres, 12 hours idle and 30 days at most, revocable one by one or all at once. Only hashes of the random
 * tokens are stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DateTime } from 'luxon';
import * as sessions from '../db/repositories/session.repository';
import {
  findFirstActiveByRole,
  findStaffByEmail,
  insertStaff,
  updateStaff,
  type StaffMember,
} from '../db/repositories/staff.repository';
import { audit, setSettingOnce } from '../db/repositories/access.repository';
import type { EmailChannel } from '../channels/email.channel';
import { escapeHtml } from '../channels/templates';
import { NotFoundError } from './errors';
import type { ServiceContext } from './context';

/** SIGN_IN_LINK_MS is how long an emailed sign-in link works. */
export const SIGN_IN_LINK_MS = 15 * 60_000;
/** SESSION_IDLE_MS ends a session nobody used for this long. */
export const SESSION_IDLE_MS = 12 * 3600_000;
/** SESSION_MAX_MS ends every session this long after sign-in. */
export const SESSION_MAX_MS = 30 * 86_400_000;
/** Idle time is written back at most this often, so a busy page costs no write per request. */
const TOUCH_EVERY_MS = 60_000;

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** signInUrl is the console address of a sign-in link token. */
export function signInUrl(ctx: ServiceContext, token: string): string {
  return `${ctx.settings.publicUrl}/console/sign-in/${token}`;
}

/** IssuedLink is a fresh sign-in link and when it stops working. */
export interface IssuedLink {
  url: string;
  expiresAt: Date;
  staff: StaffMember;
}

/**
 * issueSignInLink makes a link for the active, confirmed staff member with this email; not_found when there is none
 * (someone a sale named is pending until a manager confirms them: anyone could have typed that address).
 */
export async function issueSignInLink(
  ctx: ServiceContext,
  email: string,
  ttlMs = SIGN_IN_LINK_MS,
): Promise<IssuedLink> {
  const staff = await findStaffByEmail(ctx.db, email.trim());
  if (!staff || !staff.active || staff.pending) throw new NotFoundError('active staff member', email.trim());
  const token = newToken();
  const now = ctx.clock.now();
  const expiresAt = new Date(now.getTime() + ttlMs);
  await sessions.insertSignInLink(ctx.db, { tokenHash: hashToken(token), staffId: staff.id, at: now, expiresAt });
  // Old links are of no use to anyone: tidy them as new ones are made.
  await sessions.deleteExpiredSignInLinks(ctx.db, new Date(now.getTime() - 86_400_000));
  return { url: signInUrl(ctx, token), expiresAt, staff };
}

/**
 * requestSignInLink emails a link to `email` when it belongs to an active staff member, and does nothing otherwise:
 * the answer to the person asking is the same either way, so the form does not reveal who works here.
 */
export async function requestSignInLink(ctx: ServiceContext, mail: EmailChannel, email: string): Promise<void> {
  let link: IssuedLink;
  try {
    link = await issueSignInLink(ctx, email);
  } catch (err) {
    if (err instanceof NotFoundError) return;
    throw err;
  }
  const zone = link.staff.timezone ?? ctx.settings.defaultTimezone;
  const until = DateTime.fromJSDate(link.expiresAt, { zone }).toFormat("HH:mm '('ZZZZ')'");
  const business = ctx.settings.identity.name ?? 'the business';
  const text =
    `Hello ${link.staff.name},\n\nOpen this link to sign in to ${business}'s staff console. ` +
    `It works once, until ${until}:\n\n${link.url}\n\nIf you did not ask for it, ignore this email.\n\n${business}\n`;
  const html =
    `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="font-family:Helvetica,Arial,sans-serif">` +
    `<p>Hello ${escapeHtml(link.staff.name)},</p><p>Open this link to sign in to ${escapeHtml(business)}'s staff ` +
    `console. It works once, until ${escapeHtml(until)}:</p><p><a href="${escapeHtml(link.url)}">Sign in</a></p>` +
    `<p>If you did not ask for it, ignore this email.</p><p>${escapeHtml(business)}</p></body></html>`;
  let host = 'rapport.local';
  try {
    host = new URL(ctx.settings.publicUrl).hostname || host;
  } catch {
    // keep the default
  }
  const result = await mail.send({
    to: link.staff.email,
    subject: `Your sign-in link for ${business}`,
    text,
    html,
    messageId: `<sign-in.${randomBytes(8).toString('hex')}@${host}>`,
  });
  if (!result.ok) ctx.log.warn({ staffId: link.staff.id, reason: result.reason }, 'sign-in email not sent');
}

/** previewSignInLink returns whose a link is while it still works (its GET page), without using it. */
export function previewSignInLink(ctx: ServiceContext, token: string): Promise<StaffMember | null> {
  return sessions.findLiveSignInLink(ctx.db, hashToken(token), ctx.clock.now());
}

/** SignedIn is a new session: the cookie value (shown once) and who it is. */
export interface SignedIn {
  sessionToken: string;
  staff: StaffMember;
  expiresAt: Date;
}

/** signIn consumes a link and opens a session; null when the link was used, expired or its owner is inactive. */
export async function signIn(ctx: ServiceContext, token: string, userAgent: string | null): Promise<SignedIn | null> {
  const now = ctx.clock.now();
  const staff = await previewSignInLink(ctx, token);
  if (!staff) return null;
  const staffId = await sessions.consumeSignInLink(ctx.db, hashToken(token), now);
  if (staffId !== staff.id) return null;
  const sessionToken = newToken();
  const expiresAt = new Date(now.getTime() + SESSION_MAX_MS);
  const sessionId = await sessions.insertSession(ctx.db, {
    tokenHash: hashToken(sessionToken),
    staffId,
    at: now,
    expiresAt,
    userAgent: userAgent?.slice(0, 300) ?? null,
  });
  await audit(ctx.db, {
    actor: `staff:${staffId}`,
    action: 'session.started',
    entity: 'session',
    entityId: sessionId,
    at: now,
  });
  return { sessionToken, staff, expiresAt };
}

/** StaffSession is a signed-in staff member and their session's id. */
export interface StaffSession {
  sessionId: string;
  staff: StaffMember;
}

/** authenticateSession returns the live session of a cookie value, or null (unknown, revoked, expired, inactive). */
export async function authenticateSession(
  ctx: ServiceContext,
  token: string | undefined,
): Promise<StaffSession | null> {
  if (!token || token.length > 100) return null;
  const now = ctx.clock.now();
  const live = await sessions.findLiveSession(ctx.db, hashToken(token), now, new Date(now.getTime() - SESSION_IDLE_MS));
  if (!live) return null;
  if (now.getTime() - live.lastSeenAt.getTime() >= TOUCH_EVERY_MS) await sessions.touchSession(ctx.db, live.id, now);
  return { sessionId: live.id, staff: live.staff };
}

/** signOut ends one session. */
export async function signOut(ctx: ServiceContext, sessionId: string): Promise<void> {
  await sessions.revokeSession(ctx.db, sessionId, ctx.clock.now());
}

/** signOutEverywhere ends every session of a staff member (theirs to ask, or a manager's when someone leaves). */
export async function signOutEverywhere(ctx: ServiceContext, staffId: string, actor: string): Promise<number> {
  const now = ctx.clock.now();
  const n = await sessions.revokeSessionsOf(ctx.db, staffId, now);
  await audit(ctx.db, {
    actor,
    action: 'session.revoked_all',
    entity: 'staff',
    entityId: staffId,
    detail: { sessions: n },
    at: now,
  });
  return n;
}

/** FIRST_LINK_MS is how long the link printed at the first start works (the operator may not be at the screen). */
export const FIRST_LINK_MS = 24 * 3600_000;

/**
 * firstManagerLink returns a sign-in link for the first manager, once in the life of a database: the longest-serving
 * active manager, else a new manager with `email`. Null on every later start.
 */
export async function firstManagerLink(ctx: ServiceContext, email: string): Promise<IssuedLink | null> {
  const stamp = ctx.clock.now().toISOString();
  // setSettingOnce returns the stored value: ours only when this start is the first to ask.
  if ((await setSettingOnce(ctx.db, 'console_first_link_at', stamp)) !== stamp) return null;
  const manager =
    (await findFirstActiveByRole(ctx.db, 'manager')) ??
    (await findStaffByEmail(ctx.db, email)) ??
    (await insertStaff(ctx.db, { email, name: 'Manager', role: 'manager' }));
  // The operator named this address: a sale that met it first left it pending, which would refuse the link.
  if (manager.pending) await updateStaff(ctx.db, manager.id, { pending: false });
  return issueSignInLink(ctx, manager.email, FIRST_LINK_MS);
}
