/** Customers: GET /v1/customers?email=, GET /v1/customers/:id (profile and timeline), GET /v1/customers/:id/touches. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as customers from '../../services/customer.service';
import type { ServiceContext } from '../../services/context';
import { DateTimeSchema, IdParams, Nullable, errors } from '../schemas';
import { callerOf } from '../plugins/auth';

const DateTime = DateTimeSchema;
const CustomerSchema = Type.Object({
  id: Type.String(),
  source: Type.String(),
  externalId: Nullable(Type.String()),
  firstName: Nullable(Type.String()),
  lastName: Nullable(Type.String()),
  email: Nullable(Type.String()),
  emailStatus: Type.String(),
  phone: Nullable(Type.String()),
  timezone: Nullable(Type.String()),
  address: Type.Unknown(),
  preferences: Type.Object({
    preferredChannel: Nullable(Type.String()),
    emailOptOut: Type.Boolean(),
    newsletterOptOut: Type.Boolean(),
    doNotContact: Type.Boolean(),
  }),
  needsCleanup: Type.Boolean(),
  paused: Type.Boolean(),
  referralCode: Type.String(),
  referredBy: Nullable(Type.String()),
  segmentId: Nullable(Type.String()),
  program: Type.String(),
  erasedAt: Nullable(DateTime),
  createdAt: DateTime,
});
const TouchSchema = Type.Object({
  id: Type.String(),
  step: Type.Integer(),
  channel: Type.String(),
  dueAt: DateTime,
  status: Type.String(),
  statusReason: Nullable(Type.String()),
  attempts: Type.Integer(),
  assigneeId: Nullable(Type.String()),
  senderRole: Nullable(Type.String()),
  completedAt: Nullable(DateTime),
  history: Type.Array(Type.Object({ at: DateTime, status: Type.String(), reason: Nullable(Type.String()) })),
});
const ProfileSchema = Type.Object({
  customer: CustomerSchema,
  sales: Type.Array(Type.Unknown()),
  touches: Type.Array(TouchSchema),
  tasks: Type.Array(Type.Unknown()),
  notes: Type.Array(Type.Unknown()),
  referrals: Type.Array(Type.Object({ customerId: Type.String(), saleId: Type.String(), at: DateTime })),
});

function present(c: Awaited<ReturnType<typeof customers.getCustomer>>) {
  const { preferredChannel, emailOptOut, newsletterOptOut, doNotContact, ...rest } = c;
  return { ...rest, preferences: { preferredChannel, emailOptOut, newsletterOptOut, doNotContact } };
}

/**
 * customerRoutes lets admins and staff look customers up and read their timeline; a staff key sees only the
 * customers its staff member may see (services/visibility.service.ts), any other is a 404.
 */
export const customerRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const readers = { roles: ['staff' as const, 'admin' as const] };
  app.get(
    '/v1/customers',
    {
      config: readers,
      schema: {
        tags: ['customers'],
        querystring: Type.Object({ email: Type.String({ format: 'email' }) }),
        response: { 200: Type.Object({ customers: Type.Array(CustomerSchema) }), ...errors(400, 401, 403) },
      },
    },
    async (req) => ({
      customers: (await customers.findCustomersByEmail(ctx, callerOf(req), req.query.email)).map(present),
    }),
  );
  app.get(
    '/v1/customers/:id',
    {
      config: readers,
      schema: {
        tags: ['customers'],
        params: IdParams,
        response: { 200: ProfileSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const profile = await customers.getCustomerProfile(ctx, callerOf(req), req.params.id);
      return { ...profile, customer: present(profile.customer) };
    },
  );
  app.get(
    '/v1/customers/:id/touches',
    {
      config: readers,
      schema: {
        tags: ['customers'],
        params: IdParams,
        response: { 200: Type.Object({ touches: Type.Array(TouchSchema) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      await customers.getVisibleCustomer(ctx, callerOf(req), req.params.id);
      return { touches: await customers.getTouchesWithHistory(ctx, req.params.id) };
    },
  );
};
