/** Read-side queries for /metrics and /readyz: a ping, touch counts, and deliveries completed since a position. */
import { sql } from 'kysely';
import type { Database } from '../database';

/** ping answers when Postgres does. */
export async function ping(db: Database): Promise<void> {
  await sql`select 1`.execute(db);
}

/** countTouchesByChannelAndStatus counts every touch by channel and status. */
export async function countTouchesByChannelAndStatus(
  db: Database,
): Promise<{ channel: string; status: string; n: number }[]> {
  const { rows } = await sql<{ channel: string; status: string; n: number }>`
    select channel, status, count(*)::int as n from touches group by channel, status`.execute(db);
  return rows;
}

/** Delivery is one delivered touch: how late it went out, in seconds, and where the scan stands. */
export interface Delivery {
  id: string;
  channel: string;
  latency: number;
  completedAt: Date;
}

/**
 * listDeliveriesSince returns touches delivered (sent or done) after the keyset position `after`, oldest first, leaving
 * out the last few seconds so a delivery committed late is not skipped. Keyset on (completed_at, id): a letter batch
 * marks thousands of touches with one completion time.
 */
export async function listDeliveriesSince(
  db: Database,
  after: { at: Date; id: string } | null,
  limit: number,
): Promise<Delivery[]> {
  const { rows } = await sql<Delivery>`
    select id, channel, greatest(0, extract(epoch from completed_at - due_at))::float8 as latency, completed_at as "completedAt"
    from touches
    where status in ('sent', 'done') and completed_at is not null
      and completed_at <= now() - interval '5 seconds'
      ${after ? sql`and (completed_at, id) > (${after.at}, ${after.id}::uuid)` : sql``}
    order by completed_at, id
    limit ${limit}`.execute(db);
  return rows;
}
