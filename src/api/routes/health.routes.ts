/** GET /healthz (the process is up), GET /readyz (Postgres and Redis answer). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../../services/context';
import { pingDatabase } from '../../services/metrics.service';

/** ReadinessCheck is one dependency to ping; it throws when the dependency is down. */
export type ReadinessCheck = () => Promise<void>;

const Checks = Type.Object({ status: Type.String(), checks: Type.Record(Type.String(), Type.String()) });

/** healthRoutes serves liveness and readiness. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext; redisPing: ReadinessCheck }> = async (
  app,
  { ctx, redisPing },
) => {
  app.get(
    '/healthz',
    { schema: { tags: ['health'], response: { 200: Type.Object({ status: Type.String() }) } } },
    async () => ({ status: 'ok' }),
  );
  app.get('/readyz', { schema: { tags: ['health'], response: { 200: Checks, 503: Checks } } }, async (_req, reply) => {
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
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });
};
