/**
 * Builds the Fastify application: plugins in a fixed order (docs, errors, input policy, body timeout, auth,
 * idempotency), then the routes.
 * It never listens; src/main does, and tests use app.inject().
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../services/context';
import type { Logger } from '../logger';
import { authPlugin } from './plugins/auth';
import { RequestLogController } from './request-log';
import { errorsPlugin } from './plugins/errors';
import { idempotencyPlugin } from './plugins/idempotency';
import { hardeningPlugin, type RateLimits } from './plugins/hardening';
import { bearerMatches } from './metrics';
import { inputPolicyPlugin } from './plugins/input-policy';
import { bodyTimeoutPlugin, type BodyTimeoutOptions } from './plugins/body-timeout';
import { clientErrorHandler } from './client-errors';
import { registerQueueMetrics, type ApiMetrics } from './metrics';
import type { Queues } from '../jobs/queues';
import { customerRoutes } from './routes/customers.routes';
import { healthRoutes, type ReadinessCheck } from './routes/health.routes';
import { salesRoutes } from './routes/sales.routes';
import { segmentRoutes } from './routes/segments.routes';
import { replanRoutes } from './routes/replan.routes';
import { dashboardRoutes } from './routes/dashboard.routes';
import { staffRoutes } from './routes/staff.routes';
import { lettersRoutes } from './routes/letters.routes';
import { tasksRoutes } from './routes/tasks.routes';
import { importsRoutes } from './routes/imports.routes';
import { newslettersRoutes } from './routes/newsletters.routes';
import { customerPagesRoutes } from './routes/customer-pages.routes';
import { reportsRoutes } from './routes/reports.routes';
import { settingsRoutes } from './routes/settings.routes';
import { getBusinessIdentity, sendsHeldReason } from '../services/business-identity.service';
import type { EmailChannel } from '../channels/email.channel';
import { webPlugin } from '../web/plugin';

/** AppDeps is what the API needs from its composition root. */
export interface AppDeps {
  ctx: ServiceContext;
  redisPing: ReadinessCheck;
  metrics: ApiMetrics;
  /** The queues, to report their depths in /metrics; absent in tests that need no Redis queues. */
  queues?: Queues;
  /** Hands a stored import to the workers (POST /v1/imports answers 503 without it). */
  enqueueImport?: (importId: string) => Promise<void>;
  /** A logger to use for requests; tests pass none (silent). */
  logger?: Logger;
  /** Sends the console's sign-in links; absent: the sign-in page says to ask for a link from the command line. */
  email?: EmailChannel | null;
  /** How long a request body may take (BODY_TIMEOUTS when absent). */
  bodyTimeouts?: BodyTimeoutOptions;
  /** The HTTP settings of a deployment (src/main passes them from the config); tests may leave them out. */
  http?: HttpSettings;
}

/** HttpSettings are the server-level protections of a deployment. */
export interface HttpSettings {
  /** Fastify's trustProxy (TRUST_PROXY): whose X-Forwarded-For to believe for the client address. */
  trustProxy?: boolean | number | string[];
  /** Most ms a whole request may take, and a connection may stay idle. */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
  /** Per-key and per-address limits; absent: none. */
  rateLimits?: RateLimits;
  /** Bearer token of /metrics and of the detailed /readyz; absent or null: /metrics is off. */
  metricsToken?: string | null;
}

/** BODY_LIMIT is the largest JSON body accepted (imports stream and are not bound by it). */
export const BODY_LIMIT = 1024 * 1024;

/** trustProxyOption maps a hop count (which Fastify's types lack) to the function proxy-addr makes of it. */
function trustProxyOption(
  value: HttpSettings['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return value ?? false;
}
/**
 * BODY_TIMEOUTS: an ordinary body (at most BODY_LIMIT) must arrive within 30 s; an upload may take as long as it
 * needs, but never pause for 30 s.
 */
export const BODY_TIMEOUTS: BodyTimeoutOptions = { totalMs: 30_000, idleMs: 30_000 };

/** buildApp returns a ready Fastify instance with every route registered. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger | undefined,
    logController: new RequestLogController(),
    bodyLimit: BODY_LIMIT,
    trustProxy: trustProxyOption(deps.http?.trustProxy),
    ...(deps.http?.requestTimeoutMs ? { requestTimeout: deps.http.requestTimeoutMs } : {}),
    ...(deps.http?.connectionTimeoutMs ? { connectionTimeout: deps.http.connectionTimeoutMs } : {}),
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      info: { title: 'Rapport API', version: '1.0.0', description: 'Follow-up contact cadence scheduler' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(errorsPlugin);
  await app.register(hardeningPlugin, {
    https: deps.ctx.settings.publicUrl.startsWith('https:'),
    rateLimits: deps.http?.rateLimits,
  });
  // The validation policy and the body timeout, for every route registered after them.
  await app.register(inputPolicyPlugin);
  await app.register(bodyTimeoutPlugin, deps.bodyTimeouts ?? BODY_TIMEOUTS);
  await app.register(authPlugin, { ctx: deps.ctx });
  await app.register(idempotencyPlugin, { ctx: deps.ctx });

  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.httpDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  if (deps.queues) registerQueueMetrics(deps.metrics, deps.queues);
  const metricsToken = deps.http?.metricsToken ?? null;
  const isOperator = (authorization: string | undefined) => bearerMatches(authorization, metricsToken);
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    // Metrics name queue depths and counts of the business's customers: only for the operator's scraper.
    if (!metricsToken)
      return reply
        .status(404)
        .send({ error: { code: 'not_found', message: 'metrics are off (set RAPPORT_METRICS_TOKEN)', details: {} } });
    if (!isOperator(req.headers.authorization))
      return reply.status(401).send({
        error: {
          code: 'unauthorized',
          message: 'Authorization: the metrics token is required',
          details: { field: 'Authorization' },
        },
      });
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  await app.register(healthRoutes, {
    ctx: deps.ctx,
    redisPing: deps.redisPing,
    isOperator,
    holds: async (): Promise<Record<string, string>> => {
      const held = sendsHeldReason(await getBusinessIdentity(deps.ctx));
      return held ? { sends: `held: ${held}` } : {};
    },
  });
  await app.register(salesRoutes, { ctx: deps.ctx });
  await app.register(segmentRoutes, { ctx: deps.ctx });
  await app.register(replanRoutes, { ctx: deps.ctx });
  await app.register(staffRoutes, { ctx: deps.ctx });
  await app.register(customerRoutes, { ctx: deps.ctx });
  await app.register(tasksRoutes, { ctx: deps.ctx });
  await app.register(lettersRoutes, { ctx: deps.ctx });
  await app.register(newslettersRoutes, { ctx: deps.ctx });
  await app.register(importsRoutes, { ctx: deps.ctx, enqueueImport: deps.enqueueImport });
  await app.register(customerPagesRoutes, { ctx: deps.ctx, email: deps.email ?? undefined });
  await app.register(settingsRoutes, { ctx: deps.ctx });
  await app.register(reportsRoutes, { ctx: deps.ctx });
  await app.register(dashboardRoutes, { ctx: deps.ctx });
  // The staff console: its own encapsulated context (cookies, CSRF, CSP, HTML errors), not fastify-plugin wrapped.
  await app.register(webPlugin, { ctx: deps.ctx, email: deps.email, enqueueImport: deps.enqueueImport });
  await app.ready();
  return app as unknown as FastifyInstance;
}
