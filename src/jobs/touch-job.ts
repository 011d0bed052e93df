/**
 * Running a touch job: take the send lease, deliver, record. The lease makes concurrent workers and re-run jobs
 * harmless: a touch that is already finished, or held by another worker, is left alone.
 */
import type { Job } from 'bullmq';
import {
  noteSentAfterCancellation,
  releaseLease,
  renewLease,
  type LeasedTouch,
  type TouchResult,
} from '../db/repositories/touch-lifecycle.repository';
import { retryTransient, type ServiceContext } from '../services/context';
import type { TouchJob } from './contract';
import type { DeliveryBatches } from './delivery-batches';
import type { AfterRecord, Deliver } from './handler-deps';

/** TransientDeliveryError makes BullMQ retry the job with backoff. */
export class TransientDeliveryError extends Error {
  override name = 'TransientDeliveryError';
}

/**
 * MAX_HOLD_LEASES is how many lease lengths a delivery may hold its touch. One that has not returned by then is
 * stuck (every send and statement has a timeout far shorter), so its lease is left to run out and the reconciler gives
 * the touch to another worker: a possible duplicate rather than a contact lost behind a live lease (the soak found 16
 * touches held that way for minutes after Redis and Postgres were cut).
 */
export const MAX_HOLD_LEASES = 10;

/**
 * keepLease renews the lease every third of its length while a delivery runs, so a slow send (a loaded machine, a
 * slow mail server) is never taken over by another worker; only a dead worker's lease, or a stuck delivery's after
 * MAX_HOLD_LEASES lengths, runs out.
 */
function keepLease(ctx: ServiceContext, touchId: string, first: Date, leaseMs: number): () => void {
  let held = first;
  let renewals = 0;
  const timer = setInterval(
    () => {
      if (++renewals > MAX_HOLD_LEASES * 3) {
        clearInterval(timer);
        ctx.log.warn({ touchId }, 'a delivery has not returned: its send lease is left to run out for another worker');
        return;
      }
      const until = new Date(ctx.clock.now().getTime() + leaseMs);
      renewLease(ctx.db, touchId, held, until)
        .then((ok) => {
          if (ok) held = until;
        })
        .catch((err) => ctx.log.warn({ err, touchId }, 'could not renew a send lease'));
    },
    Math.max(250, Math.floor(leaseMs / 3)),
  );
  return () => clearInterval(timer);
}

/** RECORD_RETRY_DELAYS_MS: a delivered touch's result is recorded again after these pauses before the job gives up. */
const RECORD_RETRY_DELAYS_MS = [250, 1000, 4000];

/**
 * recordDelivered records the result of a touch that was delivered, trying again through a short database outage or a
 * deadlock: if it cannot be recorded, the touch stays leased and, once the lease runs out, is delivered again.
 */
function recordDelivered(batches: DeliveryBatches, touchId: string, result: TouchResult): Promise<boolean> {
  return retryTransient(RECORD_RETRY_DELAYS_MS, () => batches.finish(touchId, result));
}

function isLastAttempt(job: Job): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/**
 * runTouchJob wraps a Deliver function as a BullMQ processor. Taking the lease (renewed while the job runs, so only a
 * dead worker's lease runs out) and recording the result go through `batches`, so the jobs running at once share
 * those statements.
 */
export function runTouchJob(
  ctx: ServiceContext,
  deliver: Deliver,
  batches: DeliveryBatches,
): (job: Job<TouchJob>) => Promise<void> {
  const fail = (touchId: string, reason: string) => batches.finish(touchId, { status: 'failed', reason });

  /** deliverAndRecord delivers a leased touch and records how it went; returns the work to do once recorded. */
  const deliverAndRecord = async (job: Job<TouchJob>, touch: LeasedTouch): Promise<AfterRecord | undefined> => {
    let outcome;
    try {
      outcome = await deliver(touch);
    } catch (err) {
      const reason = `error: ${(err as Error).message}`;
      // After the last attempt the job stays in Redis as failed, so the touch must not stay queued behind it.
      if (isLastAttempt(job)) await fail(touch.id, reason);
      else await releaseLease(ctx.db, touch.id, ctx.clock.now(), reason);
      throw err;
    }
    if (outcome.status !== 'retry') {
      const { afterRecord, ...result } = outcome;
      if (await recordDelivered(batches, touch.id, result)) return afterRecord;
      // Cancelled while delivering (an opt-out, an erasure): the cancellation stands, but a message that did go out
      // is still written on the timeline.
      if (result.status === 'sent') await noteSentAfterCancellation(ctx.db, touch.id, ctx.clock.now());
      return undefined;
    }
    if (isLastAttempt(job)) return void (await fail(touch.id, outcome.reason));
    await releaseLease(ctx.db, touch.id, ctx.clock.now(), outcome.reason);
    throw new TransientDeliveryError(outcome.reason);
  };

  return async (job) => {
    const touch = await batches.acquire(job.data.touchId);
    if (!touch) return;
    // Renewed until the result is recorded, retries included, so no other worker takes the touch meanwhile.
    const stopRenewing = keepLease(ctx, touch.id, touch.leaseUntil, batches.leaseMs);
    let afterRecord: AfterRecord | undefined;
    try {
      afterRecord = await deliverAndRecord(job, touch);
    } finally {
      stopRenewing();
    }
    await afterRecord?.();
  };
}
