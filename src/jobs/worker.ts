/**
 * The worker runtime: one BullMQ Worker per queue, each processor looked up in one handler table that must name
 * every queue and maintenance task exactly once, the repeating maintenance jobs, and an ordered shutdown.
 */
import { Worker, type Job, type ConnectionOptions } from 'bullmq';
import type { Logger } from '../logger';
import { QUEUES, type MaintenanceJob, type MaintenanceTask, type QueueName } from './contract';
import { scheduleMaintenance, type Queues } from './queues';

/** HandlerTable maps each queue (and each maintenance task) to its processor. */
export interface HandlerTable {
  queues: Partial<Record<Exclude<QueueName, 'maintenance'>, (job: Job) => Promise<unknown>>>;
  maintenance: Partial<Record<MaintenanceTask, () => Promise<unknown>>>;
}

/** ALL_MAINTENANCE_TASKS lists every periodic task a worker must handle. */
export const ALL_MAINTENANCE_TASKS: MaintenanceTask[] = [
  'dispatch',
  'reconcile',
  'call-reminders',
  'escalate',
  'newsletters',
  'later-years',
  'retention',
  'report-rollup',
];

/** checkHandlerTable refuses to boot when a queue or periodic task has no handler. */
export function checkHandlerTable(table: HandlerTable): void {
  const missingQueues = Object.values(QUEUES).filter(
    (q) => q !== QUEUES.maintenance && !table.queues[q as Exclude<QueueName, 'maintenance'>],
  );
  const missingTasks = ALL_MAINTENANCE_TASKS.filter((t) => !table.maintenance[t]);
  if (missingQueues.length || missingTasks.length) {
    throw new Error(
      `worker handler table is incomplete: queues [${missingQueues.join(', ')}], tasks [${missingTasks.join(', ')}]`,
    );
  }
}

/** WorkerRuntimeOptions configure the workers of one process. */
export interface WorkerRuntimeOptions {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  queues: Queues;
  table: HandlerTable;
  log: Logger;
  /** Register the repeating maintenance jobs (off in tests that drive maintenance by hand). */
  scheduleMaintenance?: boolean;
  /** Overrides of MAINTENANCE_EVERY_MS. */
  maintenanceEveryMs?: Partial<Record<MaintenanceTask, number>>;
  /** BullMQ job lock: a job whose worker died is handed to another worker after about this long (default 30 s). */
  lockMs?: number;
}

/** ENSURE_MAINTENANCE_EVERY_MS is how often a worker checks that the repeating jobs still exist (a Redis flush drops them). */
export const ENSURE_MAINTENANCE_EVERY_MS = 5000;

/** WorkerRuntime is the running workers; `close` stops taking jobs and waits for the ones in flight. */
export interface WorkerRuntime {
  workers: Worker[];
  close(): Promise<void>;
}

/** startWorkers starts one worker per queue and returns the runtime. */
export async function startWorkers(o: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  checkHandlerTable(o.table);
  const workers: Worker[] = [];
  const concurrency: Partial<Record<QueueName, number>> = { maintenance: 5, import: 1 };
  for (const name of Object.values(QUEUES)) {
    const processor: (job: Job) => Promise<unknown> =
      name === QUEUES.maintenance
        ? async (job: Job<MaintenanceJob>) => o.table.maintenance[job.data.task]!()
        : o.table.queues[name]!;
    const lock = o.lockMs ? { lockDuration: o.lockMs, stalledInterval: o.lockMs } : {};
    const worker = new Worker(name, processor, {
      connection: o.connection,
      prefix: o.prefix,
      concurrency: concurrency[name] ?? o.concurrency,
      autorun: true,
      ...lock,
    });
    worker.on('error', (err) => o.log.error({ err, queue: name }, 'worker error'));
    worker.on('failed', (job, err) => {
      if (job && !(err.name === 'TransientDeliveryError'))
        o.log.warn({ queue: name, jobId: job.id, attempts: job.attemptsMade, err }, 'job failed');
    });
    workers.push(worker);
  }
  let ensure: NodeJS.Timeout | undefined;
  if (o.scheduleMaintenance !== false) {
    await scheduleMaintenance(o.queues.maintenance, ALL_MAINTENANCE_TASKS, o.maintenanceEveryMs);
    // Without its repeating jobs no scheduler or reconciler would ever run again, so a lost one is put back.
    ensure = setInterval(() => {
      scheduleMaintenance(o.queues.maintenance, ALL_MAINTENANCE_TASKS, o.maintenanceEveryMs, true).catch((err) =>
        o.log.warn({ err }, 'could not check the maintenance schedule'),
      );
    }, ENSURE_MAINTENANCE_EVERY_MS);
  }
  return {
    workers,
    async close() {
      clearInterval(ensure);
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
