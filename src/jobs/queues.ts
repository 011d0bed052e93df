/** The producer side of the queues: one BullMQ Queue per name, and handing claimed touches to their channel queue. */
import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Channel } from '../domain/types';
import type { ClaimedTouch, TouchQueuePort } from '../services/dispatch.service';
import {
  MAINTENANCE_EVERY_MS,
  MAINTENANCE_JOB_OPTIONS,
  QUEUES,
  TOUCH_JOB_OPTIONS,
  touchJobId,
  type MaintenanceTask,
  type QueueName,
  type TouchJob,
} from './contract';

/** Queues holds one Queue per name. */
export type Queues = Record<QueueName, Queue>;

/** QUEUE_OF_CHANNEL says which queue delivers a channel. */
export const QUEUE_OF_CHANNEL: Record<Channel, QueueName> = {
  email: QUEUES.email,
  letter: QUEUES.letter,
  call: QUEUES.call,
  newsletter: QUEUES.newsletter,
};

/** createQueues opens every queue on `connection` under `prefix`. */
export function createQueues(connection: ConnectionOptions, prefix: string): Queues {
  const entries = Object.values(QUEUES).map((name) => [name, new Queue(name, { connection, prefix })] as const);
  return Object.fromEntries(entries) as Queues;
}

/** closeQueues closes every queue's connection. */
export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/** CHANNELS lists every channel, each delivered by its own queue. */
export const CHANNELS = Object.keys(QUEUE_OF_CHANNEL) as Channel[];

/** pendingJobs counts, per channel, the jobs its queue holds that are not finished: waiting, delayed or running. */
export async function pendingJobs(queues: Queues): Promise<Record<Channel, number>> {
  const counts = await Promise.all(
    CHANNELS.map(async (channel) => {
      const c = await queues[QUEUE_OF_CHANNEL[channel]].getJobCounts(
        'wait',
        'delayed',
        'active',
        'prioritized',
        'paused',
        'waiting-children',
      );
      return [channel, Object.values(c).reduce((a, b) => a + b, 0)] as const;
    }),
  );
  return Object.fromEntries(counts) as Record<Channel, number>;
}

/**
 * enqueueTouches adds one job per touch to its channel's queue, delayed until the touch is due. The touch id is the
 * job id, so a touch already in Redis is not added twice.
 */
export async function enqueueTouches(queues: Queues, touches: ClaimedTouch[], now: Date): Promise<void> {
  const byQueue = new Map<QueueName, ClaimedTouch[]>();
  for (const t of touches) {
    const name = QUEUE_OF_CHANNEL[t.channel];
    byQueue.set(name, [...(byQueue.get(name) ?? []), t]);
  }
  await Promise.all(
    [...byQueue].map(([name, list]) =>
      queues[name].addBulk(
        list.map((t) => ({
          name: 'deliver',
          data: { touchId: t.id } satisfies TouchJob,
          opts: {
            ...TOUCH_JOB_OPTIONS,
            jobId: touchJobId(t.id),
            delay: Math.max(0, t.dueAt.getTime() - now.getTime()),
          },
        })),
      ),
    ),
  );
}

/**
 * clearFinishedJobs removes the failed or completed jobs still kept in Redis under these touches' job ids: a touch
 * left queued behind one (its last attempt failed after recording a hand-off) could otherwise never be re-added.
 */
export async function clearFinishedJobs(queues: Queues, touches: ClaimedTouch[]): Promise<void> {
  await Promise.all(
    touches.map(async (t) => {
      const queue = queues[QUEUE_OF_CHANNEL[t.channel]];
      const state = await queue.getJobState(touchJobId(t.id));
      if (state === 'failed' || state === 'completed') await queue.remove(touchJobId(t.id));
    }),
  );
}

/** MARKER_KEY is kept under the queues' prefix: when it is gone, so is everything else Redis held for us. */
const MARKER_KEY = 'rapport:marker';

/** RedisMarker says whether Redis lost its data since the marker was set, and can unset it to ask again. */
export interface RedisMarker {
  lost: boolean;
  unset(): Promise<void>;
}

/**
 * checkRedisMarker sets the marker key if it is missing and says so: a flush, or a restart without persistence, took
 * every job with it (the first run of a new deployment reads as a loss too, which only re-adds jobs that exist).
 */
export async function checkRedisMarker(queues: Queues): Promise<RedisMarker> {
  const queue = queues.maintenance;
  const client = (await queue.client) as unknown as Redis;
  const key = `${queue.opts.prefix ?? 'bull'}:${MARKER_KEY}`;
  const lost = (await client.set(key, new Date().toISOString(), 'NX')) === 'OK';
  return { lost, unset: async () => void (await client.del(key)) };
}

/**
 * scheduleMaintenance registers (or updates) the repeating maintenance jobs; idempotent across processes. `every`
 * overrides intervals of MAINTENANCE_EVERY_MS; `onlyMissing` re-registers only schedulers that are gone (Redis flushed).
 */
export async function scheduleMaintenance(
  queue: Queue,
  tasks: MaintenanceTask[],
  every: Partial<Record<MaintenanceTask, number>> = {},
  onlyMissing = false,
): Promise<void> {
  for (const task of tasks) {
    if (onlyMissing && (await queue.getJobScheduler(task))) continue;
    await queue.upsertJobScheduler(
      task,
      { every: every[task] ?? MAINTENANCE_EVERY_MS[task] },
      { name: task, data: { task }, opts: MAINTENANCE_JOB_OPTIONS },
    );
  }
}

/** touchQueuePort is the scheduler's view of the queues (services/dispatch.service's port) over BullMQ. */
export function touchQueuePort(queues: Queues): TouchQueuePort {
  return {
    pending: () => pendingJobs(queues),
    enqueue: (touches, now) => enqueueTouches(queues, touches, now),
    clearFinished: (touches) => clearFinishedJobs(queues, touches),
  };
}
