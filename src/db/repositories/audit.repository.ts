/** Reading the audit trail (audit_log; entries are appended by access.repository's `audit`). */
import { sql } from 'kysely';
import type { Database } from '../database';

/** AuditRow is one stored entry of the audit trail. */
export interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  entity: string;
  entityId: string | null;
  detail: Record<string, unknown>;
}

/** AuditQuery filters the trail; every field is optional except the page size. */
export interface AuditQuery {
  actor?: string;
  /** Actions starting with this (`api_key` matches `api_key.created` and `api_key.revoked`). */
  actionPrefix?: string;
  entity?: string;
  entityId?: string;
  /** From this instant (inclusive) to this one (exclusive). */
  from?: Date;
  to?: Date;
  /** Only entries older than this one, in the trail's order (newest first): the next page. */
  after?: { at: Date; id: string };
  limit: number;
}

/** listAudit returns entries newest first (by time, then by id). */
export async function listAudit(db: Database, q: AuditQuery): Promise<AuditRow[]> {
  let query = db
    .selectFrom('auditLog')
    .select(['id', 'at', 'actor', 'action', 'entity', 'entityId', 'detail'])
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(q.limit);
  if (q.actor) query = query.where('actor', '=', q.actor);
  if (q.actionPrefix) query = query.where(sql<boolean>`starts_with(action, ${q.actionPrefix})`);
  if (q.entity) query = query.where('entity', '=', q.entity);
  if (q.entityId) query = query.where('entityId', '=', q.entityId);
  if (q.from) query = query.where('at', '>=', q.from);
  if (q.to) query = query.where('at', '<', q.to);
  if (q.after) {
    const { at, id } = q.after;
    query = query.where(sql<boolean>`(at, id) < (${at}, ${id}::bigint)`);
  }
  const rows = await query.execute();
  return rows.map((r) => ({
    id: String(r.id),
    at: r.at,
    actor: r.actor,
    action: r.action,
    entity: r.entity,
    entityId: r.entityId,
    detail: (r.detail ?? {}) as Record<string, unknown>,
  }));
}

/** listAuditEntities returns the kinds of thing the trail names, in order (a loose index scan of its entity index). */
export async function listAuditEntities(db: Database): Promise<string[]> {
  const result = await sql<{ entity: string }>`
    with recursive kinds(entity) as (
      (select entity from audit_log order by entity limit 1)
      union all
      select (select a.entity from audit_log a where a.entity > k.entity order by a.entity limit 1)
      from kinds k where k.entity is not null
    )
    select entity from kinds where entity is not null`.execute(db);
  return result.rows.map((r) => r.entity);
}
