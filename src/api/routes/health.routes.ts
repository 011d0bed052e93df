/** GET /healthz (the process is up), GET /readyz (Postgres and Redis answer). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ServiceContext } from '../../services/context';
import { pingDatabase } from '../../services/metrics.service';

/** ReadinessCheck is one dependency to ping; it throws when the dependency is down. */
export type ReadinessCheck = () => Promise<void>;

const Checks = Type.Object({
  status: Type.String(),
  checks: Type.Record(Type.String(), Type.String()),
  holds: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      description: 'work the service holds back on purpose (it is still ready), and why, for operators',
    }),
  ),
});

/** HoldsCheck says what the service holds back on purpose and why (e.g. sends while the business has no name). */
export type HoldsCheck = () => Promise<Record<string, string>>;

/** healthRoutes serves liveness and readiness. */
export const healthRoutes: FastifyPluginAsyncTypebox<{
  ctx: ServiceContext;
  redisPing: ReadinessCheck;
  holds?: HoldsCheck;
}> = async (app, { ctx, redisPing, holds }) => {
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
    const held = checks.postgres === 'ok' && holds ? await holds().catch(() => ({})) : {};
    return reply.status(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      checks,
      ...(Object.keys(held).length ? { holds: held } : {}),
    });
  });
};
