/**
 * The manager's API keys: GET /console/manager/keys (every key, live and revoked, and the form to create one),
 * POST /console/manager/keys (creates it and shows the key once, on the answer itself: it is never stored in clear),
 * GET|POST /console/manager/keys/:id/revoke (asks, then revokes; the last live admin key is refused).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { issueApiKey, listAllApiKeys, revokeApiKey } from '../../services/auth.service';
import { listStaff } from '../../services/staff.service';
import { AppError, NotFoundError } from '../../services/errors';
import type { ApiRole } from '../../domain/types';
import { actorOf, staffOf } from '../auth';
import type { WebDeps } from '../plugin';

const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });
const ListQuery = Type.Object({ revoked: Type.Optional(Type.String({ format: 'uuid' })) });
const KeyForm = Type.Object({
  _csrf: Type.Optional(Type.String()),
  name: Type.Optional(Type.String({ maxLength: 1000 })),
  role: Type.Optional(Type.String({ maxLength: 20 })),
  staffId: Type.Optional(Type.String({ maxLength: 100 })),
});

const ROLES: Record<ApiRole, string> = {
  pos: 'Till (point of sale): sends sales and imports',
  staff: 'Staff member: their own tasks and customers, as the console shows them',
  admin: 'Administrator: everything, including keys and settings',
};

type FieldErrors = Record<string, string>;

/** keysRoutes registers the API key pages. */
export async function keysRoutes(app: FastifyInstance, { ctx }: WebDeps): Promise<void> {
  const guard = { preHandler: app.requireManager };

  async function listPage(reply: FastifyReply, locals: Record<string, unknown> = {}, status = 200) {
    const [keys, staff] = await Promise.all([listAllApiKeys(ctx), listStaff(ctx)]);
    const errors = (locals.errors ?? {}) as FieldErrors;
    return reply.page(
      'manager-keys',
      {
        title: 'API keys',
        keys,
        live: keys.filter((k) => !k.revokedAt).length,
        staff: staff.filter((s) => s.active),
        roles: Object.entries(ROLES).map(([value, label]) => ({ value, label })),
        fields: {},
        errors,
        errorList: Object.entries(errors).map(([field, message]) => ({ field, message })),
        ...locals,
        revoked: keys.find((k) => k.id === locals.revoked && k.revokedAt) ?? null,
      },
      status,
    );
  }

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/manager/keys',
    { ...guard, schema: { querystring: ListQuery } },
    async (req, reply) => listPage(reply, { revoked: req.query.revoked ?? null }),
  );

  app.post<{ Body: Static<typeof KeyForm> }>(
    '/manager/keys',
    { ...guard, schema: { body: KeyForm } },
    async (req, reply) => {
      const name = (req.body.name ?? '').trim();
      const role = req.body.role as ApiRole;
      const staffId = req.body.staffId || undefined;
      const errors: FieldErrors = {};
      if (!name) errors.name = 'Give the key a name, such as the till or app that will use it.';
      else if (name.length > 120) errors.name = 'Use at most 120 characters for the name.';
      if (!(role in ROLES)) errors.role = 'Choose what the key may do.';
      const staff = await listStaff(ctx);
      if (role === 'staff' && !staffId) errors.staffId = 'Choose whose key it is: a staff key acts as one person.';
      else if (role === 'staff' && !staff.some((s) => s.id === staffId && s.active))
        errors.staffId = 'Choose someone on the staff list.';
      if (Object.keys(errors).length) return listPage(reply, { errors, fields: req.body }, 400);
      const { key, apiKey } = await issueApiKey(
        ctx,
        { name, role, staffId: role === 'staff' ? staffId : undefined },
        actorOf(staffOf(req)),
      );
      // The key is shown on this answer only; it is stored as a hash and cannot be shown again.
      return reply.page('manager-key-created', {
        title: 'API key created',
        key,
        apiKey,
        roleLabel: ROLES[role],
        staffName: staff.find((s) => s.id === apiKey.staffId)?.name ?? null,
      });
    },
  );

  async function keyOf(id: string) {
    const key = (await listAllApiKeys(ctx)).find((k) => k.id === id && !k.revokedAt);
    if (!key) throw new NotFoundError('key', id);
    return key;
  }

  app.get<{ Params: Static<typeof Params> }>(
    '/manager/keys/:id/revoke',
    { ...guard, schema: { params: Params } },
    async (req, reply) =>
      reply.page('manager-key-revoke', { title: 'Revoke an API key', key: await keyOf(req.params.id), roles: ROLES }),
  );

  app.post<{ Params: Static<typeof Params> }>(
    '/manager/keys/:id/revoke',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const key = await keyOf(req.params.id);
      try {
        await revokeApiKey(ctx, key.id, { keyId: undefined, actor: actorOf(staffOf(req)) });
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== 'conflict') throw err;
        const refused =
          (err.details as { reason?: string } | undefined)?.reason === 'last_admin_key'
            ? `“${key.name}” is the last live administrator key: without it nobody could manage the API. Create another administrator key first, then revoke this one.`
            : err.message.replace(/^id: /, '');
        return listPage(reply, { refused }, 409);
      }
      return reply.redirect(`/console/manager/keys?revoked=${key.id}`, 303);
    },
  );
}
