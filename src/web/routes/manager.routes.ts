/**
 * The manager console's results and re-planning pages: GET /console/manager/results (the dashboard),
 * GET /console/manager/segments, GET|POST /console/manager/segments/:id/replan (versions, dry run, apply).
 */
import type { FastifyInstance } from 'fastify';
import { getDashboard, type Dashboard } from '../../services/dashboard.service';
import { applyReplan, dryRunReplan, type DryRun } from '../../services/replan.service';
import { listPlanVersions, listSegments } from '../../services/segment.service';
import { listStaff } from '../../services/staff.service';
import { AppError, NotFoundError, ValidationError } from '../../services/errors';
import { actorOf, staffOf } from '../auth';
import { stackedBars } from '../charts';
import type { WebDeps } from '../plugin';

/** LISTED is how many customers of a dry run the page lists (the counts cover all of them). */
const LISTED = 200;

const pct = (n: number | null) => (n === null ? '–' : `${Math.round(n * 100)}%`);

function charts(d: Dashboard) {
  const months = d.months.map((m) => m.month);
  const contacts = stackedBars({
    id: 'contacts',
    title: 'Contacts due each month, by how they went',
    desc: d.months
      .map((m) => `${m.month}: ${m.contacts.onTime} on time, ${m.contacts.late} late, ${m.contacts.missed} missed`)
      .join('; '),
    categories: months,
    series: [
      { name: 'on time', className: 'c-ok', values: d.months.map((m) => m.contacts.onTime) },
      { name: 'late', className: 'c-late', values: d.months.map((m) => m.contacts.late) },
      { name: 'missed', className: 'c-missed', values: d.months.map((m) => m.contacts.missed) },
    ],
  });
  const calls = stackedBars({
    id: 'calls',
    title: 'Calls completed each month: reached and not reached',
    desc: d.months
      .map((m) => `${m.month}: ${m.calls.completed} calls, ${m.calls.reached} reached (${pct(m.calls.shareReached)})`)
      .join('; '),
    categories: months,
    series: [
      { name: 'reached', className: 'c-ok', values: d.months.map((m) => m.calls.reached) },
      { name: 'not reached', className: 'c-late', values: d.months.map((m) => m.calls.completed - m.calls.reached) },
    ],
  });
  const workload = stackedBars({
    id: 'workload',
    title: 'Calls planned per week, next 8 weeks',
    desc: d.workload.weeks
      .map((w, i) => `week of ${w}: ${d.workload.people.reduce((n, p) => n + p.calls[i], 0)} calls`)
      .join('; '),
    categories: d.workload.weeks.map((w) => w.slice(5)),
    series: [
      {
        name: 'calls',
        className: 'c-ok',
        values: d.workload.weeks.map((_, i) => d.workload.people.reduce((n, p) => n + p.calls[i], 0)),
      },
    ],
  });
  return { contacts, calls, workload };
}

function replanLocals(dry: DryRun) {
  return {
    dry,
    listed: dry.entries.slice(0, LISTED),
    more: Math.max(0, dry.entries.length - LISTED),
    asOf: dry.asOf.toISOString(),
  };
}

/** managerRoutes registers the results dashboard and the plan versions and re-planning pages. */
export async function managerRoutes(app: FastifyInstance, { ctx }: WebDeps): Promise<void> {
  const guard = { preHandler: app.requireManager };

  app.get<{ Querystring: { from?: string; to?: string; segment?: string; salesperson?: string } }>(
    '/manager/results',
    guard,
    async (req, reply) => {
      const q = Object.fromEntries(Object.entries(req.query).filter(([, v]) => v)) as typeof req.query;
      const [d, segments, staff] = await Promise.all([getDashboard(ctx, q), listSegments(ctx), listStaff(ctx)]);
      return reply.page('manager-results', {
        title: 'Results',
        d,
        q,
        segments,
        salespeople: staff.filter((s) => s.role === 'salesperson'),
        charts: charts(d),
        share: pct(d.total.calls.shareReached),
      });
    },
  );

  app.get('/manager/segments', guard, async (_req, reply) => {
    const segments = await listSegments(ctx);
    return reply.page('manager-segments', { title: 'Segments and plans', segments });
  });

  async function versionsOf(id: string) {
    const segments = await listSegments(ctx);
    const segment = segments.find((s) => s.id === id);
    if (!segment) throw new NotFoundError('segment', id);
    return { segment, ...(await listPlanVersions(ctx, id)) };
  }

  function scopeOf(id: string, body: { fromVersion?: string }) {
    const v = body.fromVersion ? Number(body.fromVersion) : undefined;
    if (v !== undefined && !(Number.isInteger(v) && v >= 1))
      throw new ValidationError('fromVersion', 'choose a version number');
    return { segmentId: id, fromVersion: v };
  }

  app.get<{ Params: { id: string }; Querystring: { applied?: string } }>(
    '/manager/segments/:id/replan',
    guard,
    async (req, reply) =>
      reply.page('manager-replan', {
        title: 'Re-plan running customers',
        ...(await versionsOf(req.params.id)),
        applied: req.query.applied ?? null,
      }),
  );

  app.post<{ Params: { id: string }; Body: { fromVersion?: string } }>(
    '/manager/segments/:id/replan',
    guard,
    async (req, reply) => {
      const scope = scopeOf(req.params.id, req.body);
      const dry = await dryRunReplan(ctx, scope);
      return reply.page('manager-replan', {
        title: 'Re-plan: dry run',
        ...(await versionsOf(req.params.id)),
        fromVersion: scope.fromVersion ?? null,
        ...replanLocals(dry),
      });
    },
  );

  app.post<{
    Params: { id: string };
    Body: { fromVersion?: string; asOf?: string; planFingerprint?: string; fingerprint?: string };
  }>('/manager/segments/:id/replan/apply', guard, async (req, reply) => {
    const scope = scopeOf(req.params.id, req.body);
    const b = req.body;
    if (!b.asOf || !b.planFingerprint || !b.fingerprint)
      throw new ValidationError('dry run', 'run a dry run first, then apply it');
    try {
      const done = await applyReplan(
        ctx,
        { ...scope, asOf: new Date(b.asOf), planFingerprint: b.planFingerprint, fingerprint: b.fingerprint },
        actorOf(staffOf(req)),
      );
      return reply.redirect(`/console/manager/segments/${req.params.id}/replan?applied=${done.customers}`, 303);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'conflict') throw err;
      return reply.page(
        'manager-replan',
        {
          title: 'Re-plan refused',
          ...(await versionsOf(req.params.id)),
          refused: err.message,
        },
        409,
      );
    }
  });
}
