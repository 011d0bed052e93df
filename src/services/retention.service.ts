/**
 * Retention: what is kept only for a while is deleted on time. Idempotency answers (which repeat customer data) go
 * after 24 hours; uploads that stopped arriving are failed and their chunks deleted after an hour.
 */
import { purgeIdempotentResponses } from '../db/repositories/access.repository';
import { failStaleUploads } from './import.service';
import type { ServiceContext } from './context';

/** IDEMPOTENCY_TTL_MS is how long the answer to an Idempotency-Key (or a replayed sale's key) is kept. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

/** PURGE_BATCH bounds one delete statement, so a large backlog never holds locks for long. */
const PURGE_BATCH = 10_000;

/** RetentionResult counts what one run removed. */
export interface RetentionResult {
  idempotencyPurged: number;
  uploadsFailed: number;
}

/** runRetention deletes what is past its retention period; run periodically by the workers. */
export async function runRetention(ctx: ServiceContext): Promise<RetentionResult> {
  const before = new Date(ctx.clock.now().getTime() - IDEMPOTENCY_TTL_MS);
  let idempotencyPurged = 0;
  for (;;) {
    const n = await purgeIdempotentResponses(ctx.db, before, PURGE_BATCH);
    idempotencyPurged += n;
    if (n < PURGE_BATCH) break;
  }
  const uploadsFailed = await failStaleUploads(ctx);
  return { idempotencyPurged, uploadsFailed };
}
