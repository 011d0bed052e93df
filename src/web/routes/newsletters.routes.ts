/**
 * The manager's newsletters: GET /console/manager/newsletters (every edition with its counts),
 * GET|POST /console/manager/newsletters/new (write one; it is kept as a draft), GET /console/manager/newsletters/:id
 * (who it would reach now, a preview as a chosen customer, "send a test to me", schedule), GET|POST …/:id/edit,
 * GET …/:id/preview (the email's HTML alone, for the preview's sandboxed frame), POST …/:id/test, POST …/:id/schedule,
 * GET|POST …/:id/cancel (with a confirmation).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DateTime } from 'luxon';
import {
  cancelNewsletter,
  countNewsletterAudience,
  getNewsletter,
  listNewsletters,
  listPreviewCandidates,
  previewNewsletter,
  saveNewsletterDraft,
  scheduleNewsletter,
  sendNewsletterTest,
  type NewsletterInput,
  type NewsletterView,
} from '../../services/newsletter.service';
import { listSegments } from '../../services/segment.service';
import { ValidationError } from '../../services/errors';
import { actorOf, staffOf } from '../auth';
import type { WebDeps } from '../plugin';

const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Customer = Type.Optional(Type.Union([Type.Literal(''), Type.String({ format: 'uuid' })]));
const PageQuery = Type.Object({
  customer: Customer,
  done: Type.Optional(Type.String({ maxLength: 20 })),
  reason: Type.Optional(Type.String({ maxLength: 300 })),
});
const ListQuery = Type.Object({ done: Type.Optional(Type.String({ maxLength: 20 })) });
const Form = Type.Object({
  _csrf: Type.Optional(Type.String()),
  subject: Type.Optional(Type.String({ maxLength: 1000 })),
  body: Type.Optional(Type.String({ maxLength: 60_000 })),
  audience: Type.Optional(Type.String({ maxLength: 40 })),
  when: Type.Optional(Type.String({ maxLength: 10 })),
  date: Type.Optional(Type.String({ maxLength: 20 })),
  time: Type.Optional(Type.String({ maxLength: 20 })),
});
type FormBody = Static<typeof Form>;
const TestForm = Type.Object({ _csrf: Type.Optional(Type.String()), customer: Customer });
const ScheduleForm = Type.Object({
  _csrf: Type.Optional(Type.String()),
  sendNow: Type.Optional(Type.Literal('yes')),
});

/** The longest subject and body a manager may write (the API's limits). */
const SUBJECT_MAX = 300;
const BODY_MAX = 50_000;

/** A form field and its message, as the composer shows them beside the field and in the summary at the top. */
type FieldErrors = Record<string, string>;

/** FORM_FIELD names the composer's field for each field the service may name in a ValidationError. */
const FORM_FIELD: Record<string, string> = {
  subject: 'subject',
  body: 'body',
  segmentId: 'audience',
  sendAt: 'date',
  sendOn: 'date',
  localTime: 'time',
};

/** LABELS are the composer's field labels, as the error summary names them. */
const LABELS: Record<string, string> = {
  subject: 'Subject',
  body: 'Message',
  audience: 'Who gets it',
  when: 'When it goes',
  date: 'Date',
  time: 'Time',
};

/** formOf is what the composer shows for an edition (to edit it) or, for a new one, tomorrow at 10:00 in `zone`. */
function formOf(n: NewsletterView | null, zone: string, now: Date): Required<Omit<FormBody, '_csrf'>> {
  if (!n) {
    const tomorrow = DateTime.fromJSDate(now, { zone }).plus({ days: 1 });
    return { subject: '', body: '', audience: 'all', when: 'at', date: tomorrow.toISODate()!, time: '10:00' };
  }
  const at = DateTime.fromJSDate(n.sendAt, { zone });
  return {
    subject: n.subject,
    body: n.body,
    audience: n.segmentId ?? 'all',
    when: n.local ? 'local' : 'at',
    date: n.local?.date ?? at.toISODate()!,
    time: n.local?.time ?? at.toFormat('HH:mm'),
  };
}

/** inputOf reads the composer's form into an edition, or throws the field errors it can tell without the service. */
function inputOf(f: FormBody, zone: string, now: Date): { input: NewsletterInput; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const subject = (f.subject ?? '').trim();
  const body = (f.body ?? '').replace(/\r\n/g, '\n').trim();
  if (!subject) errors.subject = 'Write a subject.';
  else if (subject.length > SUBJECT_MAX) errors.subject = `Keep the subject under ${SUBJECT_MAX} characters.`;
  if (!body) errors.body = 'Write the message.';
  else if (body.length > BODY_MAX) errors.body = `Keep the message under ${BODY_MAX} characters.`;
  const audience = f.audience ?? 'all';
  const segmentId = audience === 'all' ? null : audience;
  if (segmentId !== null && !/^[0-9a-f-]{36}$/i.test(segmentId)) errors.audience = 'Choose who gets it.';
  const when = f.when ?? 'at';
  const input: NewsletterInput = { subject, body, segmentId };
  if (when === 'now') {
    input.sendAt = now.toISOString();
  } else if (when === 'at' || when === 'local') {
    const date = (f.date ?? '').trim();
    const time = (f.time ?? '').trim();
    const dateOk = /^\d{4}-\d{2}-\d{2}$/.test(date) && DateTime.fromISO(date).isValid;
    const timeOk = /^([01][0-9]|2[0-3]):[0-5][0-9]$/.test(time);
    if (!dateOk) errors.date = 'Give the date as a day, month and year (for example 2026-12-01).';
    if (!timeOk) errors.time = 'Give the time as hours and minutes, 24-hour (for example 09:30).';
    if (dateOk && timeOk) {
      if (when === 'local') {
        input.sendOn = date;
        input.localTime = time;
      } else {
        const at = DateTime.fromISO(`${date}T${time}`, { zone });
        if (!at.isValid) errors.date = 'That date and time does not exist in your time zone.';
        else input.sendAt = at.toUTC().toISO()!;
      }
    }
  } else {
    errors.when = 'Choose when it goes.';
  }
  return { input, errors };
}

function summaryOf(errors: FieldErrors) {
  return Object.entries(errors).map(([field, message]) => ({ field, label: LABELS[field] ?? field, message }));
}

/** newsletterRoutes registers the manager's newsletter pages. */
export async function newsletterRoutes(app: FastifyInstance, { ctx, email }: WebDeps): Promise<void> {
  const guard = { preHandler: app.requireManager };

  async function composer(
    req: FastifyRequest,
    reply: FastifyReply,
    o: { n: NewsletterView | null; form: Required<Omit<FormBody, '_csrf'>>; errors?: FieldErrors },
    status = 200,
  ) {
    const me = staffOf(req);
    const segments = await listSegments(ctx);
    const errors = o.errors ?? {};
    return reply.page(
      'newsletter-compose',
      {
        title: o.n ? 'Change the draft newsletter' : 'Write a newsletter',
        n: o.n,
        f: o.form,
        segments,
        errors,
        summary: summaryOf(errors),
        myZone: me.zone,
      },
      status,
    );
  }

  async function save(req: FastifyRequest<{ Body: FormBody }>, reply: FastifyReply, id?: string) {
    const me = staffOf(req);
    const now = ctx.clock.now();
    const form = { ...formOf(null, me.zone, now), ...req.body };
    delete (form as FormBody)._csrf;
    const n = id ? await getNewsletter(ctx, id) : null;
    const { input, errors } = inputOf(req.body, me.zone, now);
    if (Object.keys(errors).length === 0) {
      try {
        const saved = await saveNewsletterDraft(ctx, input, actorOf(me), id);
        return reply.redirect(`/console/manager/newsletters/${saved.id}?done=saved`, 303);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        const field = FORM_FIELD[err.field] ?? 'body';
        errors[field] = err.message.replace(`${err.field}: `, '');
        if (err.field === 'sendAt' || err.field === 'sendOn') errors[field] = 'Choose a date and time still to come.';
        if (err.field === 'segmentId') errors[field] = 'That segment no longer exists; choose another.';
        if (err.field === 'subject' || err.field === 'body')
          errors[field] = `This does not work as a template: ${errors[field]}`;
      }
    }
    return composer(req, reply, { n, form, errors }, 400);
  }

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/manager/newsletters',
    { ...guard, schema: { querystring: ListQuery } },
    async (req, reply) => {
      const [editions, segments] = await Promise.all([listNewsletters(ctx, { limit: 100 }), listSegments(ctx)]);
      const names = new Map(segments.map((s) => [s.id, s.name]));
      return reply.page('newsletters', {
        title: 'Newsletters',
        editions: editions.map((n) => ({
          ...n,
          audience: n.segmentId ? (names.get(n.segmentId) ?? 'a segment') : null,
        })),
        done: req.query.done ?? null,
      });
    },
  );

  app.get('/manager/newsletters/new', guard, async (req, reply) =>
    composer(req, reply, { n: null, form: formOf(null, staffOf(req).zone, ctx.clock.now()) }),
  );

  app.post<{ Body: FormBody }>('/manager/newsletters/new', { ...guard, schema: { body: Form } }, (req, reply) =>
    save(req, reply),
  );

  app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof PageQuery> }>(
    '/manager/newsletters/:id',
    { ...guard, schema: { params: Params, querystring: PageQuery } },
    async (req, reply) => {
      const n = await getNewsletter(ctx, req.params.id);
      const now = ctx.clock.now();
      const open = n.status === 'draft' || n.status === 'scheduled';
      const [segments, audience, candidates] = await Promise.all([
        listSegments(ctx),
        open ? countNewsletterAudience(ctx, n.id) : null,
        listPreviewCandidates(ctx, n.segmentId),
      ]);
      const customer = req.query.customer || null;
      const chosen = customer ? candidates.find((c) => c.id === customer) : null;
      // The preview renders here too, so a customer who cannot be shown is a 404 page, not a broken frame.
      const preview = await previewNewsletter(ctx, n.id, customer ?? undefined);
      return reply.page('newsletter', {
        title: n.subject,
        n,
        audienceName: n.segmentId ? (segments.find((s) => s.id === n.segmentId)?.name ?? 'a segment') : null,
        audience,
        candidates,
        customer,
        chosenName: chosen?.name ?? (customer ? 'the chosen customer' : 'a sample customer (Ann Lee)'),
        preview,
        previewUrl: `/console/manager/newsletters/${n.id}/preview${customer ? `?customer=${customer}` : ''}`,
        // An edition at one instant whose time has come (or was "now") goes as soon as it is scheduled.
        sendNow: !n.local && n.sendAt.getTime() <= now.getTime(),
        canEmail: Boolean(email),
        done: req.query.done ?? null,
        reason: req.query.reason ?? null,
      });
    },
  );

  app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof PageQuery> }>(
    '/manager/newsletters/:id/preview',
    { ...guard, schema: { params: Params, querystring: PageQuery } },
    async (req, reply) => {
      const preview = await previewNewsletter(ctx, req.params.id, req.query.customer || undefined);
      // The email alone, framed by the edition's page: no script at all, its own inline styles, images from anywhere.
      return reply
        .header(
          'content-security-policy',
          "default-src 'none'; style-src 'unsafe-inline'; img-src data: https: http:; frame-ancestors 'self'; sandbox",
        )
        .header('x-frame-options', 'SAMEORIGIN')
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(preview.html);
    },
  );

  app.get<{ Params: Static<typeof Params> }>(
    '/manager/newsletters/:id/edit',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const n = await getNewsletter(ctx, req.params.id);
      if (n.status !== 'draft') return reply.redirect(`/console/manager/newsletters/${n.id}`, 303);
      return composer(req, reply, { n, form: formOf(n, staffOf(req).zone, ctx.clock.now()) });
    },
  );

  app.post<{ Params: Static<typeof Params>; Body: FormBody }>(
    '/manager/newsletters/:id/edit',
    { ...guard, schema: { params: Params, body: Form } },
    (req, reply) => save(req, reply, req.params.id),
  );

  app.post<{ Params: Static<typeof Params>; Body: Static<typeof TestForm> }>(
    '/manager/newsletters/:id/test',
    { ...guard, schema: { params: Params, body: TestForm } },
    async (req, reply) => {
      const me = staffOf(req);
      const customer = req.body.customer || undefined;
      const back = `/console/manager/newsletters/${req.params.id}?${customer ? `customer=${customer}&` : ''}`;
      if (!email) return reply.redirect(`${back}done=no-email`, 303);
      const sent = await sendNewsletterTest(ctx, email, req.params.id, me.email, customer);
      if (sent.ok) return reply.redirect(`${back}done=tested`, 303);
      ctx.log.warn({ newsletterId: req.params.id, reason: sent.reason }, 'newsletter test not sent');
      return reply.redirect(`${back}done=test-failed&reason=${encodeURIComponent(sent.reason.slice(0, 200))}`, 303);
    },
  );

  app.post<{ Params: Static<typeof Params>; Body: Static<typeof ScheduleForm> }>(
    '/manager/newsletters/:id/schedule',
    { ...guard, schema: { params: Params, body: ScheduleForm } },
    async (req, reply) => {
      await scheduleNewsletter(ctx, req.params.id, actorOf(staffOf(req)), { sendNow: req.body.sendNow === 'yes' });
      return reply.redirect(`/console/manager/newsletters/${req.params.id}?done=scheduled`, 303);
    },
  );

  app.get<{ Params: Static<typeof Params> }>(
    '/manager/newsletters/:id/cancel',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const n = await getNewsletter(ctx, req.params.id);
      return reply.page('newsletter-cancel', { title: `Cancel “${n.subject}”`, n });
    },
  );

  app.post<{ Params: Static<typeof Params> }>(
    '/manager/newsletters/:id/cancel',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const n = await cancelNewsletter(ctx, req.params.id, actorOf(staffOf(req)));
      return reply.redirect(`/console/manager/newsletters/${n.id}?done=cancelled`, 303);
    },
  );
}
