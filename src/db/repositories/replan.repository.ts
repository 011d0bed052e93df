/**
 * Re-planning running first-year plans: reading them with what their re-computation needs, in keyset pages, and
 * writing the changes of one batch in a handful of statements.
 */
import { sql } from 'kysely';
import type { Database } from '../database';
import type { Channel, PlanStep, StaffRole, TouchStatus } from '../../domain/types';
import type { CustomerContact } from '../../domain/channel';
import { lockedInIdOrder, notePlanned } from './touch-lifecycle.repository';

/** RunningPlan is a running first-year plan with its customer's zone and contact points and its salesperson. */
export interface RunningPlan {
  runId: string;
  customerId: string;
  firstName: string | null;
  lastName: string | null;
  planVersion: number | null;
  /** The run's own steps; only read for a run from before versions (planVersion null). */
  plan: PlanStep[] | null;
  startedAt: Date;
  timezone: string | null;
  contact: CustomerContact;
  salespersonId: string | null;
  touches: RunTouch[];
}

/** RunTouch is one stored contact of a running plan. */
export interface RunTouch {
  id: string;
  runId: string;
  step: number;
  channel: Channel;
  dueAt: Date;
  status: TouchStatus;
  assigneeId: string | null;
  senderRole: StaffRole | null;
}

/** RunScope picks running plans: a segment's, optionally only of one version or of some customers. */
export interface RunScope {
  segmentId: string;
  fromVersion?: number;
  customerIds?: string[];
}

/**
 * listRunIds returns the ids of every running plan of the scope, in id order: one statement, so the list of customers
 * (up to 100,000 ids) is sent and planned once, not with every page.
 */
export async function listRunIds(db: Database, scope: RunScope): Promise<string[]> {
  let q = db
    .selectFrom('planRuns as r')
    .select('r.id')
    .where('r.segmentId', '=', scope.segmentId)
    .where('r.kind', '=', 'first_year')
    .where('r.status', '=', 'active');
  if (scope.fromVersion !== undefined) q = q.where('r.planVersion', '=', scope.fromVersion);
  if (scope.customerIds) q = q.where('r.customerId', '=', sql<string>`any(${scope.customerIds}::uuid[])`);
  const rows = await q.orderBy('r.id').execute();
  return rows.map((r) => r.id);
}

/** RunRow is a running plan as the statement returns it: its customer's contact points flat, its touches as JSON text. */
type RunRow = Omit<RunningPlan, 'contact' | 'touches'> & CustomerContact & { touches: string | null };

type TouchTuple = [string, number, string, number, string, string | null, string | null];

/**
 * listRunningPlans returns those of the given runs that are still running plans of the scope (segment, kind, status
 * and version; the customers were chosen with the ids), by run id. Each run is found by its id (an index probe, never
 * a scan), with its customer, salesperson and touches in the same statement; a touch's due time comes as epoch
 * milliseconds, which is all a JavaScript Date holds, and the touches as JSON text, parsed here once (the row
 * plugin would otherwise copy every nested array to rename keys it does not have).
 */
export async function listRunningPlans(db: Database, scope: RunScope, runIds: string[]): Promise<RunningPlan[]> {
  if (runIds.length === 0) return [];
  const version = scope.fromVersion === undefined ? sql`` : sql`and r.plan_version = ${scope.fromVersion}`;
  const { rows } = await sql<RunRow>`
    select r.id as "runId", r.customer_id as "customerId", c.first_name as "firstName", c.last_name as "lastName",
           r.plan_version as "planVersion", case when r.plan_version is null then r.plan end as plan,
           r.started_at as "startedAt", c.timezone, c.email, c.email_status as "emailStatus",
           c.email_opt_out as "emailOptOut", c.address, c.preferred_channel as "preferredChannel",
           c.do_not_contact as "doNotContact", s.salesperson_id as "salespersonId",
           (select json_agg(json_build_array(t.id, t.step, t.channel, floor(extract(epoch from t.due_at) * 1000),
                                             t.status, t.assignee_id, t.sender_role) order by t.step)::text
              from touches t where t.plan_run_id = r.id) as touches
      from unnest(${runIds}::uuid[]) as k(id)
      join plan_runs r on r.id = k.id
      join customers c on c.id = r.customer_id
      left join sales s on s.id = r.sale_id
     where r.segment_id = ${scope.segmentId} and r.kind = 'first_year' and r.status = 'active' ${version}
     order by r.id`.execute(db);
  return rows.map(({ email, emailStatus, emailOptOut, address, preferredChannel, doNotContact, ...r }) => ({
    ...r,
    plan: r.plan ?? null,
    contact: { email, emailStatus, emailOptOut, address, preferredChannel, doNotContact },
    touches: (r.touches === null ? [] : (JSON.parse(r.touches) as TouchTuple[])).map(
      ([id, step, channel, dueAt, status, assigneeId, senderRole]) => ({
        id,
        runId: r.runId,
        step,
        channel: channel as Channel,
        dueAt: new Date(dueAt),
        status: status as TouchStatus,
        assigneeId,
        senderRole: senderRole as StaffRole | null,
      }),
    ),
  }));
}

/**
 * lockRunsAndTouches locks the given runs and then their touches, each in id order, until the transaction ends: the
 * order every statement changing many runs or touches takes, so a re-plan batch never deadlocks with one of them.
 */
export async function lockRunsAndTouches(db: Database, runIds: string[]): Promise<void> {
  if (runIds.length === 0) return;
  await db
    .selectFrom('planRuns')
    .select('id')
    .where('id', '=', sql<string>`any(${runIds}::uuid[])`)
    .orderBy('id')
    .forUpdate()
    .execute();
  const touchIds = await db
    .selectFrom('touches')
    .select('id')
    .where('planRunId', '=', sql<string>`any(${runIds}::uuid[])`)
    .execute();
  await lockedInIdOrder(
    db,
    touchIds.map((t) => t.id),
  ).execute();
}

/** AddedTouch is a new scheduled touch of a run. */
export interface AddedTouch {
  runId: string;
  customerId: string;
  step: number;
  channel: Channel;
  senderRole: StaffRole | null;
  assigneeId: string | null;
  dueAt: Date;
}

/** addTouches stores new scheduled touches of several runs with a first event each; returns their ids in order. */
export async function addTouches(db: Database, touches: AddedTouch[], at: Date, actor: string): Promise<string[]> {
  if (touches.length === 0) return [];
  const rows = await db
    .insertInto('touches')
    .values(
      touches.map((t) => ({
        planRunId: t.runId,
        customerId: t.customerId,
        step: t.step,
        channel: t.channel,
        senderRole: t.senderRole,
        assigneeId: t.assigneeId,
        dueAt: t.dueAt,
        status: 'scheduled',
        statusReason: 'replanned',
      })),
    )
    .returning(['id', 'planRunId', 'step'])
    .execute();
  await notePlanned(
    db,
    rows.map((r) => ({ id: r.id, status: 'scheduled', reason: 'replanned: step added' })),
    at,
    actor,
  );
  const ids = new Map(rows.map((r) => [`${r.planRunId}:${r.step}`, r.id]));
  return touches.map((t) => ids.get(`${t.runId}:${t.step}`) as string);
}

/** setRunsVersion gives runs the steps and number of a plan version. */
export async function setRunsVersion(db: Database, runIds: string[], plan: PlanStep[], version: number): Promise<void> {
  if (runIds.length === 0) return;
  await db
    .updateTable('planRuns')
    .set({ plan: JSON.stringify(plan), planVersion: version })
    .where('id', '=', sql<string>`any(${runIds}::uuid[])`)
    .execute();
}
