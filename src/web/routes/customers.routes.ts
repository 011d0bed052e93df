/**
 * Customers: GET /console/customers?q= (search by name, email, phone or referral code), GET /console/customers/:id
 * (the 360° page) and POST /console/customers/:id/notes (a note; a complaint pauses the plan).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as taskService from '../../services/task.service';
import { customerStory, searchCustomers } from '../../services/customer-story.service';
import { actorOf, staffOf } from '../auth';
import type { WebDeps } from '../plugin';

const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });
const SearchQuery = Type.Object({ q: Type.Optional(Type.String({ maxLength: 200 })) });
const PageQuery = Type.Object({ noted: Type.Optional(Type.Union([Type.Literal('note'), Type.Literal('complaint')])) });
const NoteForm = Type.Object({
  _csrf: Type.Optional(Type.String()),
  body: Type.String({ maxLength: 5000 }),
  complaint: Type.Optional(Type.Literal('yes')),
  back: Type.Optional(Type.String({ maxLength: 200 })),
});

function callerOf(req: FastifyRequest): taskService.Caller {
  const me = staffOf(req);
  return { role: 'staff', staffId: me.id, actor: actorOf(me) };
}

/** customerRoutes registers customer search, the customer page and notes. */
export async function customerRoutes(app: FastifyInstance, { ctx }: WebDeps): Promise<void> {
  app.get<{ Querystring: Static<typeof SearchQuery> }>(
    '/customers',
    { preHandler: app.requireStaff, schema: { querystring: SearchQuery } },
    async (req, reply) => {
      const q = (req.query.q ?? '').trim();
      const hits = q ? await searchCustomers(ctx, callerOf(req), q) : [];
      return reply.page('customers', {
        title: q ? `Customers matching “${q}”` : 'Find a customer',
        q,
        hits,
        searched: q.length > 0,
      });
    },
  );

  app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof PageQuery> }>(
    '/customers/:id',
    { preHandler: app.requireStaff, schema: { params: Params, querystring: PageQuery } },
    async (req, reply) => {
      const story = await customerStory(ctx, callerOf(req), req.params.id);
      return reply.page('customer', { title: story.name, story, noted: req.query.noted ?? null, now: ctx.clock.now() });
    },
  );

  app.post<{ Params: Static<typeof Params>; Body: Static<typeof NoteForm> }>(
    '/customers/:id/notes',
    { preHandler: app.requireStaff, schema: { params: Params, body: NoteForm } },
    async (req, reply) => {
      const body = req.body.body.trim();
      const back = req.body.back && /^\/console\/tasks\/[0-9a-f-]{36}$/.test(req.body.back) ? req.body.back : null;
      if (!body) {
        const story = await customerStory(ctx, callerOf(req), req.params.id);
        return reply.page(
          'customer',
          { title: story.name, story, now: ctx.clock.now(), noteError: 'Write the note before saving it.' },
          400,
        );
      }
      const complaint = req.body.complaint === 'yes';
      await taskService.addNote(ctx, callerOf(req), req.params.id, { body, complaint });
      const kind = complaint ? 'complaint' : 'note';
      return reply.redirect(`${back ?? `/console/customers/${req.params.id}`}?noted=${kind}`, 303);
    },
  );
}
