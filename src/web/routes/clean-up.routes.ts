/**
 * Clean-up (managers): GET /console/manager/clean-up (the flagged customers they may see, with why),
 * GET|POST /console/manager/clean-up/:id (fix email, phone and postal address, through the customer's own
 * correction) and POST /console/manager/clean-up/:id/resolve (off the list).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as cleanup from '../../services/cleanup.service';
import { ValidationError } from '../../services/errors';
import type { Viewer } from '../../services/visibility.service';
import { actorOf, staffOf } from '../auth';
import type { WebDeps } from '../plugin';

const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });
const ListQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  done: Type.Optional(Type.String({ maxLength: 20 })),
  who: Type.Optional(Type.String({ maxLength: 200 })),
});
const ItemQuery = Type.Object({ done: Type.Optional(Type.String({ maxLength: 20 })) });
const Text = (max: number) => Type.Optional(Type.String({ maxLength: max }));
const FixForm = Type.Object({
  _csrf: Type.Optional(Type.String()),
  email: Text(1000),
  phone: Text(1000),
  addressLines: Text(2000),
  city: Text(1000),
  region: Text(1000),
  postalCode: Text(1000),
  country: Text(1000),
});
type FixBody = Static<typeof FixForm>;

/** FIELD_LABELS name each form field as its label does, for the error summary. */
const FIELD_LABELS: Record<string, string> = {
  email: 'Email',
  phone: 'Phone',
  addressLines: 'Street address',
  city: 'Town or city',
  region: 'State or region',
  postalCode: 'Postcode',
  country: 'Country code',
};

function viewerOf(req: FastifyRequest): Viewer {
  return { role: 'staff', staffId: staffOf(req).id };
}

function valuesOf(item: cleanup.CleanupItem): FixBody {
  return {
    email: item.email ?? '',
    phone: item.phone ?? '',
    addressLines: item.address?.lines.join('\n') ?? '',
    city: item.address?.city ?? '',
    region: item.address?.region ?? '',
    postalCode: item.address?.postalCode ?? '',
    country: item.address?.country ?? '',
  };
}

/** cleanUpRoutes registers the clean-up pages. */
export async function cleanUpRoutes(app: FastifyInstance, { ctx }: WebDeps): Promise<void> {
  const guard = { preHandler: app.requireManager };

  async function itemPage(
    reply: FastifyReply,
    item: cleanup.CleanupItem,
    values: FixBody,
    errors: Record<string, string> = {},
    done: string | null = null,
    status = 200,
  ) {
    return reply.page(
      'clean-up-customer',
      {
        title: `Clean up: ${item.name}`,
        item,
        values,
        errors,
        errorList: Object.entries(errors).map(([field, message]) => ({ field, label: FIELD_LABELS[field], message })),
        done,
      },
      status,
    );
  }

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/manager/clean-up',
    { ...guard, schema: { querystring: ListQuery } },
    async (req, reply) => {
      const list = await cleanup.listCleanup(ctx, viewerOf(req), req.query.page ?? 1);
      return reply.page('clean-up', {
        title: 'Clean-up',
        list,
        done: req.query.done ?? null,
        who: req.query.who ?? null,
      });
    },
  );

  app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof ItemQuery> }>(
    '/manager/clean-up/:id',
    { ...guard, schema: { params: Params, querystring: ItemQuery } },
    async (req, reply) => {
      const item = await cleanup.getCleanupItem(ctx, viewerOf(req), req.params.id);
      return itemPage(reply, item, valuesOf(item), {}, req.query.done ?? null);
    },
  );

  app.post<{ Params: Static<typeof Params>; Body: FixBody }>(
    '/manager/clean-up/:id',
    { ...guard, schema: { params: Params, body: FixForm } },
    async (req, reply) => {
      const viewer = viewerOf(req);
      const { _csrf, ...input } = req.body;
      try {
        const change = await cleanup.fixContactDetails(ctx, viewer, req.params.id, input, actorOf(staffOf(req)));
        return reply.redirect(
          `/console/manager/clean-up/${req.params.id}?done=${change.changed ? 'saved' : 'unchanged'}`,
          303,
        );
      } catch (err) {
        if (!(err instanceof ValidationError) || !FIELD_LABELS[err.field]) throw err;
        const item = await cleanup.getCleanupItem(ctx, viewer, req.params.id);
        const reason = err.message.slice(err.field.length + 2);
        const message = reason.charAt(0).toUpperCase() + reason.slice(1);
        return itemPage(reply, item, input, { [err.field]: message }, null, 400);
      }
    },
  );

  app.post<{ Params: Static<typeof Params> }>(
    '/manager/clean-up/:id/resolve',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const viewer = viewerOf(req);
      const item = await cleanup.getCleanupItem(ctx, viewer, req.params.id);
      await cleanup.resolveCleanup(ctx, viewer, item.id, actorOf(staffOf(req)));
      return reply.redirect(`/console/manager/clean-up?done=resolved&who=${encodeURIComponent(item.name)}`, 303);
    },
  );
}
