/**
 * Signing in and out: GET|POST /console/sign-in (ask for a link by email), GET|POST /console/sign-in/:token (the
 * link shows a button; only the POST uses it), POST /console/sign-out and POST /console/sign-out-everywhere.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as sessions from '../../services/session.service';
import { SESSION_COOKIE, actorOf, cookieOptions, loadMe, staffOf } from '../auth';
import type { WebDeps } from '../plugin';

/** SIGN_IN_WINDOW is the rate limits' window: per IP and per address. */
const SIGN_IN_WINDOW = '15 minutes';

function safeNext(next: unknown): string {
  // Only a path inside the console: never another site (an open redirect) nor a protocol-relative URL.
  return typeof next === 'string' && /^\/console(\/|$|\?)/.test(next) && !next.startsWith('//') ? next : '/console';
}

function emailOf(req: FastifyRequest): string {
  const body = req.body as { email?: unknown } | undefined;
  return typeof body?.email === 'string' ? body.email.trim().toLowerCase().slice(0, 320) : '';
}

/** signInRoutes registers the sign-in pages. */
export async function signInRoutes(app: FastifyInstance, { ctx, email }: WebDeps): Promise<void> {
  const perIp = app.rateLimit({ max: 20, timeWindow: SIGN_IN_WINDOW });
  const perAddress = app.rateLimit({
    max: 5,
    timeWindow: SIGN_IN_WINDOW,
    keyGenerator: (req) => `address:${emailOf(req)}`,
  });

  app.get('/', async (req, reply) =>
    reply.redirect((await loadMe(ctx, req)) ? '/console/today' : '/console/sign-in', 303),
  );

  app.get<{ Querystring: { next?: string; sent?: string } }>('/sign-in', async (req, reply) => {
    if (await loadMe(ctx, req)) return reply.redirect(safeNext(req.query.next), 303);
    return reply.page('sign-in', {
      title: 'Sign in',
      next: safeNext(req.query.next),
      sent: req.query.sent === '1',
      canEmail: Boolean(email),
    });
  });

  app.post<{ Body: { email?: string; next?: string } }>(
    '/sign-in',
    { preHandler: [perIp, perAddress] },
    async (req, reply) => {
      const address = emailOf(req);
      if (!/^[^\s@]+@[^\s@]+$/.test(address)) {
        return reply.page(
          'sign-in',
          {
            title: 'Sign in',
            next: safeNext(req.body?.next),
            canEmail: Boolean(email),
            error: 'Enter your work email address, like sam@shop.example.',
            value: address,
          },
          400,
        );
      }
      if (email) await sessions.requestSignInLink(ctx, email, address);
      return reply.redirect(`/console/sign-in?sent=1&next=${encodeURIComponent(safeNext(req.body?.next))}`, 303);
    },
  );

  app.get<{ Params: { token: string }; Querystring: { next?: string } }>('/sign-in/:token', async (req, reply) => {
    const staff = await sessions.previewSignInLink(ctx, req.params.token);
    if (!staff) return reply.page('sign-in-expired', { title: 'This link no longer works' }, 410);
    // The link must never leak onward as a Referer.
    reply.header('referrer-policy', 'no-referrer');
    return reply.page('sign-in-link', { title: 'Sign in', name: staff.name, token: req.params.token });
  });

  app.post<{ Params: { token: string } }>('/sign-in/:token', { preHandler: [perIp] }, async (req, reply) => {
    const signed = await sessions.signIn(ctx, req.params.token, req.headers['user-agent'] ?? null);
    if (!signed) return reply.page('sign-in-expired', { title: 'This link no longer works' }, 410);
    // Max-Age, not Expires: relative, so a browser whose clock differs from the server's keeps the session as long.
    const maxAge = Math.floor((signed.expiresAt.getTime() - ctx.clock.now().getTime()) / 1000);
    reply.setCookie(SESSION_COOKIE, signed.sessionToken, { ...cookieOptions(ctx), maxAge });
    return reply.redirect('/console/today', 303);
  });

  app.post('/sign-out', { preHandler: app.requireStaff }, async (req, reply) => {
    await sessions.signOut(ctx, staffOf(req).sessionId);
    reply.clearCookie(SESSION_COOKIE, cookieOptions(ctx));
    return reply.redirect('/console/sign-in', 303);
  });

  app.post('/sign-out-everywhere', { preHandler: app.requireStaff }, async (req, reply) => {
    const me = staffOf(req);
    await sessions.signOutEverywhere(ctx, me.id, actorOf(me));
    reply.clearCookie(SESSION_COOKIE, cookieOptions(ctx));
    return reply.redirect('/console/sign-in', 303);
  });
}
