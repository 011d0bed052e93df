/** Plan versions: every saved change of a segment's steps or send window, numbered per segment. */
import { sql } from 'kysely';
import type { Database } from '../database';
import type { PlanStep, SendWindow } from '../../domain/types';

/** PlanVersion is one saved version of a segment's plan: who saved it, when, and what changed. */
export interface PlanVersion {
  segmentId: string;
  version: number;
  plan: PlanStep[];
  sendWindow: SendWindow;
  changes: string[];
  createdBy: string | null;
  createdAt: Date;
}

function toVersion(row: {
  segmentId: string;
  version: number;
  plan: unknown;
  sendWindow: unknown;
  changes: unknown;
  createdBy: string | null;
  createdAt: Date;
}): PlanVersion {
  return {
    segmentId: row.segmentId,
    version: row.version,
    plan: row.plan as PlanStep[],
    sendWindow: row.sendWindow as SendWindow,
    changes: row.changes as string[],
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
}

/** insertPlanVersion stores a version; its hash is computed from the jsonb text, as runs' snapshots are matched. */
export async function insertPlanVersion(db: Database, v: PlanVersion): Promise<void> {
  const plan = JSON.stringify(v.plan);
  await db
    .insertInto('planVersions')
    .values({
      segmentId: v.segmentId,
      version: v.version,
      plan,
      sendWindow: JSON.stringify(v.sendWindow),
      planHash: sql<string>`md5(${plan}::jsonb::text)`,
      changes: JSON.stringify(v.changes),
      createdBy: v.createdBy,
      createdAt: v.createdAt,
    })
    .execute();
}

/** listPlanVersions returns a segment's versions, newest first. */
export async function listPlanVersions(db: Database, segmentId: string): Promise<PlanVersion[]> {
  const rows = await db
    .selectFrom('planVersions')
    .selectAll()
    .where('segmentId', '=', segmentId)
    .orderBy('version', 'desc')
    .execute();
  return rows.map(toVersion);
}

/** findPlanVersions returns the given versions of a segment, by number. */
export async function findPlanVersions(
  db: Database,
  segmentId: string,
  versions: number[],
): Promise<Map<number, PlanVersion>> {
  if (versions.length === 0) return new Map();
  const rows = await db
    .selectFrom('planVersions')
    .selectAll()
    .where('segmentId', '=', segmentId)
    .where('version', 'in', versions)
    .execute();
  return new Map(rows.map((r) => [r.version, toVersion(r)]));
}

/** countRunsByVersion counts a segment's running first-year plans per version (null: from before versions). */
export async function countRunsByVersion(
  db: Database,
  segmentId: string,
): Promise<{ version: number | null; runs: number }[]> {
  return db
    .selectFrom('planRuns')
    .select(['planVersion as version', sql<number>`count(*)::int`.as('runs')])
    .where('segmentId', '=', segmentId)
    .where('kind', '=', 'first_year')
    .where('status', '=', 'active')
    .groupBy('planVersion')
    .orderBy('planVersion')
    .execute();
}
