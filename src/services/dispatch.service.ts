/**
 * The scheduler's two periodic duties: hand touches that fall due within a short horizon to the queues, and queue
 * again the touches whose job was lost (Redis flushed or restarted). Redis only ever holds the near-term work.
 */
import * as dispatch from '../db/repositories/touch-lifecycle.repository';
import type { Channel } from '../domain/types';
import type { ServiceContext } from './context';
import { getBusinessIdentity, sendsHeldReason } from './business-identity.service';

/** ClaimedTouch is a touch handed to the queues: its id, channel and due time. */
export type ClaimedTouch = dispatch.ClaimedTouch;

/**
 * TouchQueuePort is what the scheduler needs of the queues; src/jobs implements it over BullMQ, so this service knows
 * no queue library.
 */
export interface TouchQueuePort {
  /** pending counts, per channel, the jobs not finished (waiting, delayed or running). */
  pending(): Promise<Record<Channel, number>>;
  /** enqueue adds one job per touch, delayed until it is due; a touch already queued is not added twice. */
  enqueue(touches: ClaimedTouch[], now: Date): Promise<void>;
  /** clearFinished removes finished jobs still kept under these touches' job ids, so they can be added again. */
  clearFinished(touches: ClaimedTouch[]): Promise<void>;
}

/** DispatchSettings tune the scheduler. */
export interface DispatchSettings {
  /** Touches due within this many ms are queued now, with a delay. */
  horizonMs: number;
  /** Claims per transaction. */
  batchSize: number;
  /** Most batches per run, so one run stays short. */
  maxBatches: number;
  /** A queued touch older than this, with no live lease, is assumed lost from Redis. */
  lostAfterMs: number;
  /** How long a worker holds a touch (send lease and BullMQ job lock) before another may take it over. */
  leaseMs: number;
  /**
   * Most unfinished jobs a channel's queue may hold before the scheduler stops claiming for it (it may pass this by
   * one batch). A backlog (a mail server down, a slow print room) then waits in Postgres, and Redis memory stays
   * bounded by this, not by how much falls due.
   */
  maxQueuedPerChannel: number;
}

/** DEFAULT_DISPATCH_SETTINGS suit a production deployment. */
export const DEFAULT_DISPATCH_SETTINGS: DispatchSettings = {
  horizonMs: 60_000,
  batchSize: 1000,
  maxBatches: 50,
  lostAfterMs: 5 * 60_000,
  leaseMs: 120_000,
  maxQueuedPerChannel: 20_000,
};

/** CUSTOMER_FACING are the channels held while the business has no name; calls are staff work and go on. */
const CUSTOMER_FACING = new Set<string>(['email', 'letter', 'newsletter']);

// At most one warning a minute per process while sends are held, so the log says why without flooding.
const HELD_WARN_MS = 60_000;
const lastHeldWarning = new WeakMap<object, number>();

function noteHeld(ctx: ServiceContext, reason: string): void {
  const now = performance.now();
  const last = lastHeldWarning.get(ctx.db);
  if (last !== undefined && now - last < HELD_WARN_MS) return;
  lastHeldWarning.set(ctx.db, now);
  ctx.log.warn({ held: ['email', 'letter', 'newsletter'] }, `customer-facing sends are held: ${reason}`);
}

/**
 * dispatchDueTouches claims due touches batch by batch and adds them to their queues, for the channels whose queue
 * has room (maxQueuedPerChannel); returns how many.
 */
export async function dispatchDueTouches(
  ctx: ServiceContext,
  queues: TouchQueuePort,
  s: DispatchSettings,
): Promise<number> {
  const pending = await queues.pending();
  const channels = Object.keys(pending) as Channel[];
  const held = sendsHeldReason(await getBusinessIdentity(ctx));
  if (held) noteHeld(ctx, held);
  let total = 0;
  for (let i = 0; i < s.maxBatches; i++) {
    const open = channels.filter(
      (channel) => pending[channel] < s.maxQueuedPerChannel && !(held && CUSTOMER_FACING.has(channel)),
    );
    if (open.length === 0) break;
    const now = ctx.clock.now();
    const until = new Date(now.getTime() + s.horizonMs);
    const claimed = await ctx.db
      .transaction()
      .execute((trx) => dispatch.claimDueTouches(trx, now, until, s.batchSize, open));
    if (claimed.length === 0) break;
    await queues.enqueue(claimed, now);
    for (const t of claimed) pending[t.channel]++;
    total += claimed.length;
    if (claimed.length < s.batchSize) break;
  }
  const full = channels.filter((channel) => pending[channel] >= s.maxQueuedPerChannel);
  if (full.length > 0) ctx.log.debug({ full, pending }, 'queues full: their due touches wait in Postgres');
  return total;
}

/**
 * requeueAllQueued adds the job of every queued touch back to its queue at once (Redis lost its data: see
 * checkRedisMarker in jobs/queues); returns how many. The jobs keep their touch ids, so one that survived is not doubled.
 */
export async function requeueAllQueued(
  ctx: ServiceContext,
  queues: TouchQueuePort,
  s: DispatchSettings,
): Promise<number> {
  let total = 0;
  let after: string | null = null;
  for (;;) {
    const now = ctx.clock.now();
    const from: string | null = after;
    const touches: dispatch.ClaimedTouch[] = await ctx.db
      .transaction()
      .execute((trx) => dispatch.takeQueuedTouches(trx, now, from, s.batchSize));
    if (touches.length === 0) break;
    await queues.enqueue(touches, now);
    total += touches.length;
    after = touches[touches.length - 1].id;
    if (touches.length < s.batchSize) break;
  }
  if (total > 0) ctx.log.warn({ count: total }, 'Redis lost its data: queued again every queued touch');
  return total;
}

/** requeueLostTouches adds the jobs of touches left queued too long back to their queues; returns how many. */
export async function requeueLostTouches(
  ctx: ServiceContext,
  queues: TouchQueuePort,
  s: DispatchSettings,
): Promise<number> {
  let total = 0;
  for (let i = 0; i < s.maxBatches; i++) {
    const now = ctx.clock.now();
    const lost = await ctx.db
      .transaction()
      .execute((trx) => dispatch.findLostTouches(trx, now, new Date(now.getTime() - s.lostAfterMs), s.batchSize));
    if (lost.length === 0) break;
    await queues.clearFinished(lost);
    await queues.enqueue(lost, now);
    total += lost.length;
    if (lost.length < s.batchSize) break;
  }
  if (total > 0) ctx.log.warn({ count: total }, 'queued again touches whose jobs were lost');
  return total;
}
