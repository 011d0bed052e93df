/** What the API's /metrics and /readyz read from Postgres: touch counts, recent deliveries, a ping. */
import * as metrics from '../db/repositories/metrics.repository';
import type { ServiceContext } from './context';

/** Delivery is one touch completed (sent or done), with how late it was. */
export type Delivery = metrics.Delivery;

/** pingDatabase throws when Postgres does not answer. */
export function pingDatabase(ctx: ServiceContext): Promise<void> {
  return metrics.ping(ctx.db);
}

/** countTouches returns how many touches there are of each channel and status. */
export function countTouches(ctx: ServiceContext): ReturnType<typeof metrics.countTouchesByChannelAndStatus> {
  return metrics.countTouchesByChannelAndStatus(ctx.db);
}

/** deliveriesSince returns up to `limit` deliveries after the keyset position `after`, oldest first. */
export function deliveriesSince(
  ctx: ServiceContext,
  after: { at: Date; id: string } | null,
  limit: number,
): Promise<Delivery[]> {
  return metrics.listDeliveriesSince(ctx.db, after, limit);
}
