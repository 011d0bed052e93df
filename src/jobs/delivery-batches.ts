/**
 * The database work every touch job shares (take the lease, read the context, record the result, file a letter),
 * each gathered across the jobs running at once into one statement (see batcher.ts). Built once per worker process.
 */
import type { Paper } from '../channels/letter.channel';
import {
  acquireLeases,
  finishTouches,
  type FinishedTouch,
  type LeasedTouch,
  type TouchResult,
} from '../db/repositories/touch-lifecycle.repository';
import { loadTouchContextRows } from '../db/repositories/touch-context.repository';
import type { ServiceContext } from '../services/context';
import { fileLetters, type FiledLetter } from '../services/letter.service';
import type { TouchRowsLoader } from '../services/touch-context.service';
import { createBatcher } from '../services/batcher';

/** DeliveryBatches are the batched steps of a touch job. */
export interface DeliveryBatches {
  /** leaseMs is how long acquire holds a touch unless the lease is renewed (RAPPORT_LEASE_MS). */
  leaseMs: number;
  /** acquire takes the touch's send lease for leaseMs; null when another worker has it or it is finished. */
  acquire(touchId: string): Promise<LeasedTouch | null>;
  /** contextRows reads what delivering the touch needs. */
  contextRows: TouchRowsLoader;
  /** finish records the touch's result and drops its lease; false when it was no longer queued (cancelled meanwhile). */
  finish(touchId: string, result: TouchResult): Promise<boolean>;
  /** fileLetter puts a rendered letter touch into today's print batch; null when it is no longer queued. */
  fileLetter(touchId: string, paper: Paper): Promise<FiledLetter | null>;
}

/** createDeliveryBatches builds the batched steps over one process's database handle. */
export function createDeliveryBatches(ctx: ServiceContext, o: { leaseMs: number }): DeliveryBatches {
  const fileLetter = createBatcher((letters: { touchId: string; paper: Paper }[]) => fileLetters(ctx, letters));
  const finish = createBatcher((items: FinishedTouch[]) => finishTouches(ctx.db, items, ctx.clock.now()));
  return {
    leaseMs: o.leaseMs,
    acquire: createBatcher((ids: string[]) => {
      const now = ctx.clock.now();
      return acquireLeases(ctx.db, ids, now, new Date(now.getTime() + o.leaseMs));
    }),
    contextRows: createBatcher((ids: string[]) => loadTouchContextRows(ctx.db, ids)),
    finish: (touchId, result) => finish({ touchId, result }),
    fileLetter: (touchId, paper) => fileLetter({ touchId, paper }),
  };
}
