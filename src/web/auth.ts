/**
 * Who is signed in: the session cookie, the guards that routes put in front of their handlers, and `staffOf(req)`
 * for the signed-in staff member. The cookie holds only the session's random id; the session lives in Postgres.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { StaffRole } from '../domain/types';
import { authenticateSession, type StaffSession } from '../services/session.service';
import type { ServiceContext } from '../services/context';

/** SESSION_COOKIE is the name of the session cookie (path /console, HttpOnly, SameSite=Lax, Secure on https). */
export const SESSION_COOKIE = 'rapport_session';

/** Me is the signed-in staff member as pages use them: `zone` is their time zone, else the business's. */
export interface Me {
  id: string;
  name: string;
  email: string;
  role: StaffRole;
  managerId: string | null;
  zone: string;
  sessionId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    me?: Me;
  }
}

/** staffOf returns the signed-in staff member of a request behind requireStaff. */
export function staffOf(req: FastifyRequest): Me {
  if (!req.me) throw new Error('staffOf: the route has no requireStaff guard');
  return req.me;
}

/** actorOf is how audits name the signed-in staff member. */
export function actorOf(me: Me): string {
  return `staff:${me.id}`;
}

function toMe(ctx: ServiceContext, s: StaffSession): Me {
  return {
    id: s.staff.id,
    name: s.staff.name,
    email: s.staff.email,
    role: s.staff.role,
    managerId: s.staff.managerId,
    zone: s.staff.timezone ?? ctx.settings.defaultTimezone,
    sessionId: s.sessionId,
  };
}

/** cookieOptions are the session and CSRF cookies' attributes. */
export function cookieOptions(ctx: ServiceContext) {
  return {
    path: '/console',
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: ctx.settings.publicUrl.startsWith('https:'),
  };
}

/** loadMe reads the session cookie and sets req.me when it names a live session; true when it does. */
export async function loadMe(ctx: ServiceContext, req: FastifyRequest): Promise<boolean> {
  const session = await authenticateSession(ctx, req.cookies[SESSION_COOKIE]);
  if (!session) return false;
  req.me = toMe(ctx, session);
  return true;
}

function toSignIn(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const next = req.method === 'GET' ? req.url : '/console';
  const to = `/console/sign-in?next=${encodeURIComponent(next)}`;
  // htmx follows a redirect inside the swap; HX-Redirect makes it load the whole sign-in page instead.
  if (req.headers['hx-request']) return reply.status(401).header('hx-redirect', to).send('');
  return reply.redirect(to, 303);
}

/** staffGuard makes the preHandler that sends a request without a live session to the sign-in page. */
export function staffGuard(ctx: ServiceContext, roles?: StaffRole[]) {
  return async function requireStaff(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!(await loadMe(ctx, req))) {
      reply.clearCookie(SESSION_COOKIE, cookieOptions(ctx));
      return void toSignIn(req, reply);
    }
    if (roles && !roles.includes(req.me!.role)) {
      // The same answer as a page that does not exist: a role's pages are not advertised to others.
      return void (await reply.page('not-found', { title: 'Page not found' }, 404));
    }
  };
}
