/** Starting and stopping the workers inside a process (used by the worker-only and all-in-one entry points). */
import IORedis from 'ioredis';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { ServiceContext } from '../services/context';
import { createEmailChannel } from '../channels/email.channel';
import { DEFAULT_DISPATCH_SETTINGS, type DispatchSettings } from '../services/dispatch.service';
import { closeQueues, createQueues, type Queues } from '../jobs/queues';
import { createProducerRedis } from './services';
import { createHandlerTable } from '../jobs/handlers';
import { createDeliveryBatches } from '../jobs/delivery-batches';
import { startWorkers, type HandlerTable } from '../jobs/worker';
import { MAINTENANCE_EVERY_MS } from '../jobs/contract';

/** WorkerProcessOptions override defaults, for tests and benchmarks. */
export interface WorkerProcessOptions {
  dispatch?: Partial<DispatchSettings>;
  scheduleMaintenance?: boolean;
}

/** WorkerProcess is the running workers, their queues and handlers, and an ordered shutdown. */
export interface WorkerProcess {
  queues: Queues;
  table: HandlerTable;
  close(): Promise<void>;
}

/** startWorkerProcess starts every worker and returns them with a function that shuts them down in order. */
export async function startWorkerProcess(
  config: Config,
  ctx: ServiceContext,
  log: Logger,
  opts: WorkerProcessOptions = {},
): Promise<WorkerProcess> {
  // Workers block on Redis: they need a connection that retries forever rather than failing commands.
  const connection = new IORedis(config.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  // Producers (the scheduler adding jobs) fail fast instead, so a Redis outage leaves touches queued for the
  // reconciler rather than hanging a periodic task.
  const producer = createProducerRedis(config);
  const queues = createQueues(producer, config.redisPrefix);
  const email = createEmailChannel({
    smtpUrl: config.smtpUrl,
    outboxDir: config.outboxDir,
    // Customer-facing mail names the business's From itself (business-identity.service); this is the fallback.
    from: config.identity.emailFrom ?? `hello@${new URL(config.publicUrl).hostname}`,
    maxConnections: config.smtpMaxConnections,
    requireTls: config.smtpRequireTls,
    log,
    clock: ctx.clock,
  });
  log.info({ mail: email.describe() }, 'email channel ready');
  const dispatch: DispatchSettings = {
    ...DEFAULT_DISPATCH_SETTINGS,
    lostAfterMs: config.requeueAfterMs,
    leaseMs: config.leaseMs,
    ...opts.dispatch,
  };
  const batches = createDeliveryBatches(ctx, { leaseMs: dispatch.leaseMs });
  const table = createHandlerTable({ ctx, queues, email, paper: config.paper, dispatch, batches });
  const runtime = await startWorkers({
    connection,
    prefix: config.redisPrefix,
    concurrency: config.workerConcurrency,
    queues,
    table,
    log,
    scheduleMaintenance: opts.scheduleMaintenance,
    lockMs: Math.min(dispatch.leaseMs, 30_000),
    // The reconciler looks at least twice per requeue period, so a lost touch waits at most 1.5 periods.
    maintenanceEveryMs: {
      reconcile: Math.min(MAINTENANCE_EVERY_MS.reconcile, Math.max(1000, Math.floor(dispatch.lostAfterMs / 2))),
    },
  });
  log.info({ concurrency: config.workerConcurrency, prefix: config.redisPrefix }, 'workers running');
  return {
    queues,
    table,
    async close() {
      await runtime.close(); // stop taking jobs; in-flight ones finish
      await closeQueues(queues);
      await email.close();
      connection.disconnect();
      producer.disconnect();
    },
  };
}
