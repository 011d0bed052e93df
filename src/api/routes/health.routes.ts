/** GET /healthz (the process is up), GET /readyz (Postgres and Redis answer). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../../services/context';
import { pingDatabase } from '../../services/metrics.service';

/** ReadinessCheck is one dependency to ping; it throws when the dependency is down. */
export type ReadinessCheck = () => Promise<void>;

const Checks = Type.Object({
  status: Type.String(),
  checks: Type.Optional(Type.Record(Type.String(), Type.String())),
  holds: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      description: 'work the service holds back on purpose (it is still ready), and why, for operators',
    }),
  ),
});

/** HoldsCheck says what the service holds back on purpose and why (e.g. sends while the business has no name). */
export type HoldsCheck = () => Promise<Record<string, string>>;

/** HealthRoutesOptions: what to probe, what is held back, and who may see why (the operator's metrics token). */
export interface HealthRoutesOptions {
  ctx: ServiceContext;
  redisPing: ReadinessCheck;
  holds?: HoldsCheck;
  /** Tells whether an Authorization header is the operator's; absent: nobody sees the detail. */
  isOperator?: (authorization: string | undefined) => boolean;
}

/** healthRoutes serves liveness and readiness; the reasons of readiness and the holds only to the operator. */
export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (
  app,
  { ctx, redisPing, holds, isOperator },
) => {
  app.get(
    '/healthz',
    { schema: { tags: ['health'], response: { 200: Type.Object({ status: Type.String() }) } } },
    async () => ({ status: 'ok' }),
  );
  app.get('/readyz', { schema: { tags: ['health'], response: { 200: Checks, 503: Checks } } }, async (req, reply) => {
    const checks: Record<string, string> = {};
    const probe = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await Promise.race([
          fn(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
        ]);
        checks[name] = 'ok';
      } catch (err) {
        checks[name] = `down: ${(err as Error).message}`;
      }
    };
    await Promise.all([probe('postgres', () => pingDatabase(ctx)), probe('redis', redisPing)]);
    const ready = Object.values(checks).every((v) => v === 'ok');
    const status = ready ? 'ready' : 'not_ready';
    // Error messages name hosts and ports: the public (a load balancer) gets up or down only.
    const detail = isOperator?.(req.headers.authorization) ?? false;
    if (!detail) return reply.status(ready ? 200 : 503).send({ status });
    const held = checks.postgres === 'ok' && holds ? await holds().catch(() => ({})) : {};
    return reply
      .status(ready ? 200 : 503)
      .send({ status, checks, ...(Object.keys(held).length ? { holds: held } : {}) });
  });
};
