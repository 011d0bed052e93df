/** The results dashboard's data: GET /v1/reports/dashboard?from=&to=&segment=&salesperson= (admin). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { getDashboard } from '../../services/dashboard.service';
import type { ServiceContext } from '../../services/context';
import { errors } from '../schemas';

const Month = Type.String({ pattern: '^\\d{4}-\\d{2}$' });
const DashboardQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ description: 'first month, YYYY-MM (default 11 months before `to`)' })),
    to: Type.Optional(Type.String({ description: 'last month, YYYY-MM (default this month)' })),
    segment: Type.Optional(Type.String({ format: 'uuid', description: 'only this segment' })),
    salesperson: Type.Optional(Type.String({ format: 'uuid', description: 'only sales by this staff member' })),
  },
  { additionalProperties: false },
);

/** dashboardRoutes serves the monthly results, read from the rollups, and the call workload of the next 8 weeks. */
export const dashboardRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  app.get(
    '/v1/reports/dashboard',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['reports'],
        description:
          'Contacts on time, late and missed by channel; calls completed and the share reached; opt-outs; repeat ' +
          'sales; referrals: per month, from monthly rollups recomputed every 5 minutes (`computedAt`). Workload: ' +
          'calls planned per person per week for the next 8 weeks, live.',
        querystring: DashboardQuery,
        response: {
          200: Type.Object({
            fromMonth: Month,
            toMonth: Month,
            filters: Type.Unknown(),
            onTimeWithinHours: Type.Integer(),
            months: Type.Array(Type.Unknown()),
            total: Type.Unknown(),
            computedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
            workload: Type.Unknown(),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (req) => {
      const d = await getDashboard(ctx, req.query);
      return { ...d, computedAt: d.computedAt?.toISOString() ?? null };
    },
  );
};
