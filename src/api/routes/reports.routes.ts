/** Results: GET /v1/reports/summary?from=&to=&segment=&salesperson= (admin). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { summarize } from '../../services/report.service';
import type { ServiceContext } from '../../services/context';
import { DateTimeSchema, Nullable, errors } from '../schemas';

const Count = Type.Integer({ minimum: 0 });
const ContactCounts = Type.Object({
  planned: Count,
  onTime: Count,
  late: Count,
  missed: Count,
  skipped: Count,
  cancelled: Count,
  failed: Count,
  pending: Count,
});

const SummaryQuery = Type.Object(
  {
    from: Type.Optional(
      Type.String({
        description: 'start of the period (inclusive): YYYY-MM-DD or ISO 8601 date-time; default 30 days before `to`',
      }),
    ),
    to: Type.Optional(Type.String({ description: 'end of the period (exclusive); default now' })),
    segment: Type.Optional(Type.String({ format: 'uuid', description: 'only this segment' })),
    salesperson: Type.Optional(Type.String({ format: 'uuid', description: 'only sales by this staff member' })),
  },
  { additionalProperties: false },
);

const SummarySchema = Type.Object({
  period: Type.Object({ from: DateTimeSchema, to: DateTimeSchema }),
  filters: Type.Object({ segment: Nullable(Type.String()), salesperson: Nullable(Type.String()) }),
  onTimeWithinHours: Type.Integer(),
  contacts: Type.Object(
    { total: ContactCounts, byChannel: Type.Record(Type.String(), ContactCounts) },
    { description: 'touches due in the period, by how they ended' },
  ),
  calls: Type.Object(
    { completed: Count, outcomes: Type.Record(Type.String(), Count) },
    { description: 'call tasks completed in the period' },
  ),
  optOuts: Type.Object(
    { email: Count, newsletter: Count, all: Count, erasures: Count },
    { description: 'from the audit trail' },
  ),
  repeatPurchase: Type.Object(
    { customers: Count, repeatCustomers: Count, rate: Nullable(Type.Number()) },
    { description: 'customers with 2+ sales / customers with 1+ sale in the period' },
  ),
  referralsByCohort: Type.Array(
    Type.Object({
      cohort: Type.String({ description: 'YYYY-MM of the first sale' }),
      customers: Count,
      referrers: Count,
      referrals: Count,
      referralsPerCustomer: Type.Number(),
    }),
  ),
});

/** reportsRoutes lets admins read the results summary. */
export const reportsRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  app.get(
    '/v1/reports/summary',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['reports'],
        querystring: SummaryQuery,
        response: { 200: SummarySchema, ...errors(400, 401, 403) },
      },
    },
    async (req) => summarize(ctx, req.query),
  );
};
