/** Segments with their match rules, plan, send window and later-years settings. */
import type { Selectable } from 'kysely';
import type { Database } from '../database';
import type { Segments } from '../types';
import type { LaterYears, PlanStep, Segment, SegmentContent, SegmentMatch, SendWindow } from '../../domain/types';

/** toSegment maps a segment row to the domain type. */
export function toSegment(row: Selectable<Segments>): Segment {
  return {
    id: row.id,
    name: row.name,
    priority: row.priority,
    isDefault: row.isDefault,
    match: row.match as SegmentMatch,
    plan: row.plan as unknown as PlanStep[],
    sendWindow: row.sendWindow as unknown as SendWindow,
    laterYears: row.laterYears as unknown as LaterYears,
    content: (row.content ?? {}) as SegmentContent,
    planVersion: row.planVersion,
  };
}

/** SegmentFields are the editable parts of a segment. */
export type SegmentFields = Omit<Segment, 'id' | 'isDefault' | 'planVersion'>;

function toRow(s: SegmentFields) {
  return {
    name: s.name,
    priority: s.priority,
    match: JSON.stringify(s.match),
    plan: JSON.stringify(s.plan),
    sendWindow: JSON.stringify(s.sendWindow),
    laterYears: JSON.stringify(s.laterYears),
    content: JSON.stringify(s.content ?? {}),
  };
}

/** listSegments returns every segment, highest priority (lowest number) first. */
export async function listSegments(db: Database): Promise<Segment[]> {
  return (await db.selectFrom('segments').selectAll().orderBy('priority').orderBy('name').execute()).map(toSegment);
}

/** findSegment returns one segment or null. */
export async function findSegment(db: Database, id: string): Promise<Segment | null> {
  const row = await db.selectFrom('segments').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toSegment(row) : null;
}

/** insertSegment creates a segment; a duplicate name raises the unique violation. */
export async function insertSegment(db: Database, s: SegmentFields): Promise<Segment> {
  return toSegment(await db.insertInto('segments').values(toRow(s)).returningAll().executeTakeFirstOrThrow());
}

/** findSegmentForUpdate returns one segment locked until the transaction ends, or null. */
export async function findSegmentForUpdate(db: Database, id: string): Promise<Segment | null> {
  const row = await db.selectFrom('segments').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  return row ? toSegment(row) : null;
}

/** updateSegment replaces a segment's editable fields (and its plan version when given); null when it does not exist. */
export async function updateSegment(
  db: Database,
  id: string,
  s: SegmentFields,
  planVersion?: number,
): Promise<Segment | null> {
  const row = await db
    .updateTable('segments')
    .set({ ...toRow(s), ...(planVersion ? { planVersion } : {}), updatedAt: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row ? toSegment(row) : null;
}
