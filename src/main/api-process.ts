/** Starting and stopping the HTTP API inside a process (used by the API-only and all-in-one entry points). */
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { ServiceContext } from '../services/context';
import { buildApp } from '../api/app';
import { createApiMetrics } from '../api/metrics';
import { createProducerRedis } from './services';
import { createImportEnqueuer } from '../jobs/import.handler';
import { closeQueues, createQueues } from '../jobs/queues';
import { createEmailChannel } from '../channels/email.channel';
import { createErasurePort } from '../jobs/erasure';

/** startApi builds the app, listens on the configured port and returns a function that closes it. */
export async function startApi(config: Config, ctx: ServiceContext, log: Logger): Promise<() => Promise<void>> {
  const redis = createProducerRedis(config);
  const imports = createImportEnqueuer(redis, config.redisPrefix);
  // Producer-side queues on the fail-fast connection, so /metrics can report their depths.
  const queues = createQueues(redis, config.redisPrefix);
  // The console's sign-in links go out from the API itself: a person is waiting for them.
  const email = createEmailChannel({
    smtpUrl: config.smtpUrl,
    outboxDir: config.outboxDir,
    from: config.identity.emailFrom ?? `hello@${new URL(config.publicUrl).hostname}`,
    maxConnections: 2,
    requireTls: config.smtpRequireTls,
    log,
  });
  const app = await buildApp({
    email,
    // Erasure (a customer page) also removes the queues' and the outbox's copies of the customer's messages.
    ctx: { ...ctx, erasure: createErasurePort(queues, config.outboxDir) },
    enqueueImport: imports.enqueue,
    queues,
    logger: log,
    metrics: createApiMetrics(ctx),
    redisPing: async () => {
      await redis.ping();
    },
    http: {
      trustProxy: config.trustProxy,
      requestTimeoutMs: config.requestTimeoutMs,
      connectionTimeoutMs: config.connectionTimeoutMs,
      rateLimits: { perKey: config.rateLimitPerKey, perIp: config.rateLimitPerIp },
      metricsToken: config.metricsToken,
    },
  });
  await app.listen({ port: config.port, host: config.host });
  log.info({ url: config.publicUrl, docs: `${config.publicUrl}/docs` }, 'API listening');
  return async () => {
    await app.close();
    await email.close();
    await imports.close();
    await closeQueues(queues);
    await email.close();
    redis.disconnect();
  };
}
