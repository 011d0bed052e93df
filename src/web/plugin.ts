/**
 * The staff console, mounted at /console (and `/` redirects there). Everything here is in this plugin's own
 * encapsulated context: cookies, form parsing, CSRF, the security headers (helmet, strict CSP), sign-in rate limits,
 * the HTML error pages and the versioned static assets. See src/web/README.md for how a page is written.
 */
import { createHmac } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import type { EmailChannel } from '../channels/email.channel';
import type { ServiceContext } from '../services/context';
import { AppError } from '../services/errors';
import { ASSET_PREFIX, HTMX_DIR, STATIC_DIR, createViews } from './views';
import { cookieOptions, staffGuard } from './auth';
import { signInRoutes } from './routes/sign-in.routes';
import { todayRoutes } from './routes/today.routes';
import { taskRoutes } from './routes/tasks.routes';
import { customerRoutes } from './routes/customers.routes';
import { managerRoutes } from './routes/manager.routes';
import { businessRoutes } from './routes/business.routes';
import { planRoutes } from './routes/plans.routes';
import { importsRoutes } from './routes/imports.routes';
import { keysRoutes } from './routes/keys.routes';
import { auditRoutes } from './routes/audit.routes';
import { newsletterRoutes } from './routes/newsletters.routes';
import { letterRoutes } from './routes/letters.routes';
import { peopleRoutes } from './routes/people.routes';
import { cleanUpRoutes } from './routes/clean-up.routes';

/** WebDeps is what the console needs from its composition root. */
export interface WebDeps {
  ctx: ServiceContext;
  /** Sends sign-in links; without it the sign-in form says links cannot be emailed (use `npm run console:link`). */
  email?: EmailChannel | null;
  /** Hands a stored import to the workers (the same as POST /v1/imports'); without it uploads are refused (503). */
  enqueueImport?: (importId: string) => Promise<void>;
}

declare module 'fastify' {
  interface FastifyReply {
    /** page renders views/<view>.liquid (which extends the layout) with `locals` and the common locals. */
    page(view: string, locals?: Record<string, unknown>, status?: number): Promise<FastifyReply>;
    /** fragment renders views/<view>.liquid alone (an htmx swap), with the common locals. */
    fragment(view: string, locals?: Record<string, unknown>, status?: number): Promise<FastifyReply>;
  }
  interface FastifyInstance {
    /** requireStaff is the preHandler of every page for signed-in staff; staffOf(req) then gives who it is. */
    requireStaff: preHandlerAsyncHookHandler;
    /** requireManager also refuses (404) anyone who is not a manager. */
    requireManager: preHandlerAsyncHookHandler;
  }
}

/** MANAGER_NAV are the manager's sections, each at /console/manager/<section>, in the order the menu shows them. */
const MANAGER_NAV = [
  { section: 'results', label: 'Results' },
  { section: 'segments', label: 'Plans' },
  { section: 'newsletters', label: 'Newsletters' },
  { section: 'letters', label: 'Letters' },
  { section: 'people', label: 'People' },
  { section: 'clean-up', label: 'Clean-up' },
  { section: 'imports', label: 'Imports' },
  { section: 'keys', label: 'API keys' },
  { section: 'audit', label: 'Audit' },
  { section: 'business', label: 'Business' },
];

/** FORM_BODY_LIMIT bounds a console form post. */
const FORM_BODY_LIMIT = 64 * 1024;

function pageFor(status: number): { view: string; title: string } {
  if (status === 404) return { view: 'not-found', title: 'Page not found' };
  if (status === 403) return { view: 'forbidden', title: 'This form has expired' };
  if (status === 429) return { view: 'error', title: 'Too many attempts' };
  if (status < 500) return { view: 'error', title: 'That did not work' };
  return { view: 'error', title: 'Something went wrong' };
}

/** webPlugin registers the console. Register it without fastify-plugin, so its hooks stay inside it. */
export async function webPlugin(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const { ctx } = deps;
  const views = createViews();
  const secure = ctx.settings.publicUrl.startsWith('https:');
  // Console pages are not part of the JSON API's OpenAPI document.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });

  await app.register(cookie, {
    secret: createHmac('sha256', ctx.settings.secret).update('console-cookies').digest('hex'),
  });
  await app.register(formbody, { bodyLimit: FORM_BODY_LIMIT });
  await app.register(csrf, { sessionPlugin: '@fastify/cookie', cookieOpts: { ...cookieOptions(ctx), signed: true } });
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
    },
    hsts: secure ? { maxAge: 31_536_000 } : false,
    referrerPolicy: { policy: 'same-origin' },
  });
  await app.register(rateLimit, { global: false });

  async function render(
    reply: FastifyReply,
    view: string,
    locals: Record<string, unknown>,
    status: number,
  ): Promise<FastifyReply> {
    const req = reply.request;
    const me = req.me ?? null;
    const path = req.url.split('?')[0]!;
    const html = await views.renderFile(view, {
      ...locals,
      me,
      zone: me?.zone ?? ctx.settings.defaultTimezone,
      business: ctx.settings.identity.name ?? '',
      csrf: reply.generateCsrf(),
      path,
      manager_nav: MANAGER_NAV,
      manager_section: /^\/console\/manager\/([^/]+)/.exec(path)?.[1] ?? null,
    });
    return reply.status(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(html);
  }
  app.decorateReply('page', function (this: FastifyReply, view: string, locals = {}, status = 200) {
    return render(this, view, locals, status);
  });
  app.decorateReply('fragment', function (this: FastifyReply, view: string, locals = {}, status = 200) {
    return render(this, view, locals, status);
  });
  app.decorate('requireStaff', staffGuard(ctx));
  app.decorate('requireManager', staffGuard(ctx, ['manager']));

  // Every console form carries its CSRF token (`<input type="hidden" name="_csrf" value="{{ csrf }}">`).
  app.addHook('preHandler', (req, reply, done) => {
    if (req.method === 'GET' || req.method === 'HEAD') return done();
    app.csrfProtection(req, reply, done);
  });

  app.setErrorHandler(async (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    let status = 500;
    let message = 'Something went wrong on our side. Try again; if it keeps happening, tell your manager.';
    if (err.validation) {
      status = 400;
      const issue = err.validation[0] as { instancePath?: string; params?: Record<string, unknown>; message?: string };
      const field = String(issue.params?.missingProperty ?? issue.instancePath?.replace(/^\//, '') ?? 'form');
      message = `${field || 'form'}: ${issue.message ?? 'is not valid'}`;
    } else if (err instanceof AppError) {
      status = {
        validation_failed: 400,
        unauthorized: 401,
        forbidden: 404,
        not_found: 404,
        conflict: 409,
        payload_too_large: 413,
        unavailable: 503,
        too_many_requests: 429,
      }[err.code];
      message = err.message;
    } else if (err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET') {
      status = 403;
      message =
        'This form was open for too long, or it did not come from this site. Go back, reload the page and try again.';
    } else if (err.statusCode === 429) {
      status = 429;
      message = 'Too many attempts. Wait a few minutes and try again.';
    } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      message = 'The form could not be read. Go back and try again.';
    }
    if (status >= 500) req.log.error({ err }, 'console request failed');
    const { view, title } = pageFor(status);
    return reply.page(view, { title, message }, status);
  });

  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/console', 302));

  await app.register(
    async (scope) => {
      scope.setNotFoundHandler(async (_req, reply) => reply.page('not-found', { title: 'Page not found' }, 404));
      await scope.register(fastifyStatic, {
        root: [STATIC_DIR, HTMX_DIR],
        prefix: ASSET_PREFIX.replace(/^\/console/, ''),
        immutable: true,
        maxAge: '365d',
        index: false,
        list: false,
        allowedPath: (pathName) => ['/htmx.min.js', '/console.css', '/console.js'].includes(pathName),
      });
      await scope.register(signInRoutes, deps);
      await scope.register(todayRoutes, deps);
      await scope.register(taskRoutes, deps);
      await scope.register(customerRoutes, deps);
      await scope.register(managerRoutes, deps);
      await scope.register(businessRoutes, deps);
      await scope.register(planRoutes, deps);
      await scope.register(importsRoutes, deps);
      await scope.register(keysRoutes, deps);
      await scope.register(auditRoutes, deps);
      await scope.register(newsletterRoutes, deps);
      await scope.register(letterRoutes, deps);
      await scope.register(peopleRoutes, deps);
      await scope.register(cleanUpRoutes, deps);
    },
    { prefix: '/console' },
  );
}
