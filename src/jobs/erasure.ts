/** The erasure port over BullMQ and the outbox: a customer's failed (or finished) touch jobs and outbox files go. */
import { eraseOutboxMessages } from '../channels/email.channel';
import type { ErasurePort } from '../services/erasure-port';
import { touchJobId } from './contract';
import { CHANNELS, QUEUE_OF_CHANNEL, type Queues } from './queues';

/**
 * createErasurePort removes the jobs kept under these touches' job ids (a failed job keeps its reason, which may
 * quote the address, e.g. "550 no such user ann@example.com") and the outbox files of their emails.
 */
export function createErasurePort(queues: Queues, outboxDir: string | null): ErasurePort {
  return {
    async forgetDeliveries(touchIds) {
      await Promise.all(
        CHANNELS.flatMap((channel) =>
          touchIds.map(async (id) => {
            const queue = queues[QUEUE_OF_CHANNEL[channel]];
            // An active job is left to finish (the touch is cancelled, so it sends nothing); its lock would refuse.
            const state = await queue.getJobState(touchJobId(id));
            if (state !== 'unknown' && state !== 'active') await queue.remove(touchJobId(id));
          }),
        ),
      );
      if (outboxDir) await eraseOutboxMessages(outboxDir, touchIds);
    },
  };
}
