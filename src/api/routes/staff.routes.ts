/**
 * Staff and API keys (admin): POST/GET /v1/staff, PATCH /v1/staff/:id, POST /v1/staff/:id/confirm, POST/GET
 * /v1/keys, DELETE /v1/keys/:id.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as staff from '../../services/staff.service';
import { issueApiKey, listApiKeys, revokeApiKey } from '../../services/auth.service';
import type { ServiceContext } from '../../services/context';
import { IdParams, Nullable, errors } from '../schemas';

const Role = Type.Union([Type.Literal('salesperson'), Type.Literal('executive'), Type.Literal('manager')]);
const Clock = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' });
const StaffFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  title: Type.Optional(Type.String({ maxLength: 200 })),
  phone: Type.Optional(Type.String({ maxLength: 30, pattern: '^\\+?[0-9 ()./-]{5,30}$' })),
  role: Role,
  managerId: Type.Optional(Type.String({ format: 'uuid' })),
  timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  workingDays: Type.Optional(
    Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1, maxItems: 7, uniqueItems: true }),
  ),
  workStart: Type.Optional(Clock),
  workEnd: Type.Optional(Clock),
};
const StaffBody = Type.Object(
  { email: Type.String({ format: 'email', maxLength: 254 }), ...StaffFields },
  { additionalProperties: false },
);
const StaffPatch = Type.Partial(
  Type.Object({ ...StaffFields, active: Type.Boolean() }, { additionalProperties: false }),
);
const StaffSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  title: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  role: Type.String(),
  managerId: Nullable(Type.String()),
  timezone: Nullable(Type.String()),
  workingDays: Type.Array(Type.Integer()),
  workStart: Type.String(),
  workEnd: Type.String(),
  active: Type.Boolean(),
  pending: Type.Boolean({ description: 'met through a sale or an import and not yet confirmed by a manager' }),
});
const ConfirmBody = Type.Object(
  { managerId: Type.Optional(Type.String({ format: 'uuid' })) },
  { additionalProperties: false },
);
const KeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: Type.Union([Type.Literal('pos'), Type.Literal('staff'), Type.Literal('admin')]),
    staffId: Type.Optional(Type.String({ format: 'uuid' })),
  },
  { additionalProperties: false },
);
const KeySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  prefix: Type.String(),
  staffId: Nullable(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
});

/** staffRoutes lets admins manage staff and API keys. */
export const staffRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  const admin = { roles: ['admin' as const] };
  app.post(
    '/v1/staff',
    {
      config: { ...admin, idempotent: true },
      schema: { tags: ['staff'], body: StaffBody, response: { 201: StaffSchema, ...errors(400, 401, 403, 409) } },
    },
    async (req, reply) => reply.status(201).send(await staff.createStaff(ctx, req.body, `key:${req.apiKey?.id}`)),
  );
  app.get(
    '/v1/staff',
    {
      config: admin,
      schema: {
        tags: ['staff'],
        response: { 200: Type.Object({ staff: Type.Array(StaffSchema) }), ...errors(401, 403) },
      },
    },
    async () => ({
      staff: await staff.listStaff(ctx),
    }),
  );
  app.patch(
    '/v1/staff/:id',
    {
      config: admin,
      schema: {
        tags: ['staff'],
        params: IdParams,
        body: StaffPatch,
        response: { 200: StaffSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => staff.updateStaff(ctx, req.params.id, req.body, `key:${req.apiKey?.id}`),
  );
  app.post(
    '/v1/staff/:id/confirm',
    {
      config: admin,
      schema: {
        tags: ['staff'],
        summary: 'Confirm a salesperson a sale introduced (pending until then), optionally naming their manager',
        params: IdParams,
        body: ConfirmBody,
        response: { 200: StaffSchema, ...errors(400, 401, 403, 404, 409) },
      },
      // The body is optional: a bare POST confirms without naming a manager.
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) => staff.confirmStaff(ctx, req.params.id, req.body.managerId ?? null, `key:${req.apiKey?.id}`),
  );
  app.post(
    '/v1/keys',
    // Not idempotent: a stored answer would keep the key itself in the database.
    {
      config: admin,
      schema: {
        tags: ['keys'],
        summary: 'Create an API key; the key is shown only in this answer',
        body: KeyBody,
        response: { 201: Type.Intersect([KeySchema, Type.Object({ key: Type.String() })]), ...errors(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const { key, apiKey } = await issueApiKey(ctx, req.body, `key:${req.apiKey?.id}`);
      return reply.status(201).send({ ...apiKey, createdAt: apiKey.createdAt.toISOString(), key });
    },
  );
  app.get(
    '/v1/keys',
    {
      config: admin,
      schema: { tags: ['keys'], response: { 200: Type.Object({ keys: Type.Array(KeySchema) }), ...errors(401, 403) } },
    },
    async () => ({
      keys: (await listApiKeys(ctx)).map((k) => ({ ...k, createdAt: k.createdAt.toISOString() })),
    }),
  );
  app.delete(
    '/v1/keys/:id',
    {
      config: admin,
      schema: {
        tags: ['keys'],
        summary: 'Revoke a key; the key making the request and the last live admin key cannot be revoked (409)',
        params: IdParams,
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      await revokeApiKey(ctx, req.params.id, { keyId: req.apiKey?.id, actor: `key:${req.apiKey?.id}` });
      return reply.status(204).send(null);
    },
  );
};
