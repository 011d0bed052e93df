/**
 * The manager's audit trail: GET /console/manager/audit, newest first, 50 a page, filtered by who, what kind of
 * change, what kind of thing (and which one) and a date range in the viewer's time zone.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { auditFilterOptions, listAuditTrail, type AuditEntry } from '../../services/audit.service';
import { AppError } from '../../services/errors';
import { staffOf } from '../auth';
import type { WebDeps } from '../plugin';

const Query = Type.Object({
  actor: Type.Optional(Type.String({ maxLength: 200 })),
  action: Type.Optional(Type.String({ maxLength: 100 })),
  entity: Type.Optional(Type.String({ maxLength: 100 })),
  entityId: Type.Optional(Type.String({ maxLength: 200 })),
  from: Type.Optional(Type.String({ maxLength: 20 })),
  to: Type.Optional(Type.String({ maxLength: 20 })),
  after: Type.Optional(Type.String({ maxLength: 60 })),
});
type AuditQuery = Static<typeof Query>;

/** linkOf is the console page of an entry's thing, when it has one. */
function linkOf(e: AuditEntry): string | null {
  if (!e.entityId) return null;
  if (e.entity === 'customer') return `/console/customers/${e.entityId}`;
  if (e.entity === 'task') return `/console/tasks/${e.entityId}`;
  if (e.entity === 'import') return `/console/manager/imports/${e.entityId}`;
  if (e.entity === 'segment') return `/console/manager/segments/${e.entityId}/replan`;
  return null;
}

/** detailOf writes an entry's detail as short "key: value" pairs. */
function detailOf(detail: Record<string, unknown>): string[] {
  return Object.entries(detail).map(([k, v]) => {
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    return `${k}: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`;
  });
}

/** auditRoutes registers the audit trail page. */
export async function auditRoutes(app: FastifyInstance, { ctx }: WebDeps): Promise<void> {
  app.get<{ Querystring: AuditQuery }>(
    '/manager/audit',
    { preHandler: app.requireManager, schema: { querystring: Query } },
    async (req, reply) => {
      const q = Object.fromEntries(Object.entries(req.query).filter(([, v]) => v)) as AuditQuery;
      const me = staffOf(req);
      const options = await auditFilterOptions(ctx);
      let page;
      let error: { field: string; message: string } | null = null;
      try {
        page = await listAuditTrail(ctx, q, me.zone);
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== 'validation_failed') throw err;
        error = { field: String(err.details.field ?? 'from'), message: err.message };
      }
      const { after: _after, ...filters } = q;
      const nextQuery = page?.next ? new URLSearchParams({ ...filters, after: page.next }).toString() : null;
      return reply.page(
        'manager-audit',
        {
          title: 'Audit trail',
          q,
          error,
          actors: options.actors,
          entities: options.entities,
          entries: (page?.entries ?? []).map((e) => ({ ...e, link: linkOf(e), details: detailOf(e.detail) })),
          filtered: Object.keys(filters).length > 0,
          paged: Boolean(q.after),
          firstPage: `/console/manager/audit${Object.keys(filters).length ? `?${new URLSearchParams(filters)}` : ''}`,
          nextPage: nextQuery ? `/console/manager/audit?${nextQuery}` : null,
        },
        error ? 400 : 200,
      );
    },
  );
}
