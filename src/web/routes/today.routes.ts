/** Today's calls: GET /console/today (overdue first, then today) and GET /console/upcoming (the next 14 days). */
import type { FastifyInstance } from 'fastify';
import * as queue from '../../services/work-queue.service';
import { staffOf } from '../auth';
import type { WebDeps } from '../plugin';
import { callerOfRequest, savedNotice } from './tasks.routes';

/** todayRoutes registers the Today and Upcoming tabs. */
export async function todayRoutes(app: FastifyInstance, { ctx }: WebDeps): Promise<void> {
  app.get<{ Querystring: { saved?: string } }>('/today', { preHandler: app.requireStaff }, async (req, reply) => {
    const q = await queue.todayQueue(ctx, staffOf(req).id);
    const savedId = req.query.saved && /^[0-9a-f-]{36}$/.test(req.query.saved) ? req.query.saved : null;
    const saved = savedId ? await savedNotice(ctx, callerOfRequest(req), savedId) : null;
    return reply.page('today', {
      title: 'Today',
      tab: 'today',
      overdue: q.overdue,
      today: q.today,
      first: q.overdue[0] ?? q.today[0] ?? null,
      saved,
      now: ctx.clock.now(),
    });
  });
  app.get('/upcoming', { preHandler: app.requireStaff }, async (req, reply) => {
    const q = await queue.upcomingQueue(ctx, staffOf(req).id);
    return reply.page('today', {
      title: 'Upcoming',
      tab: 'upcoming',
      upcoming: q.items,
      days: queue.UPCOMING_DAYS,
      now: ctx.clock.now(),
    });
  });
}
