/**
 * People (managers): GET /console/manager/people (everyone, with their status), GET|POST /console/manager/people/new
 * (add someone), GET|POST /console/manager/people/:id (edit), POST .../confirm (a salesperson a sale introduced),
 * GET|POST .../deactivate (their open tasks go to their manager and their sessions end), POST .../reactivate and
 * POST .../sign-in-link (email them a link).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import * as staff from '../../services/staff.service';
import { requestSignInLink } from '../../services/session.service';
import { AppError, ConflictError, ValidationError } from '../../services/errors';
import { isEmailAddress } from '../../services/input-policy';
import type { StaffRole } from '../../domain/types';
import { actorOf, staffOf } from '../auth';
import type { WebDeps } from '../plugin';

const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });
const ListQuery = Type.Object({
  done: Type.Optional(Type.String({ maxLength: 20 })),
  who: Type.Optional(Type.String({ maxLength: 200 })),
  moved: Type.Optional(Type.String({ maxLength: 10 })),
  sessions: Type.Optional(Type.String({ maxLength: 10 })),
});
const Text = Type.Optional(Type.String({ maxLength: 1000 }));
const PersonForm = Type.Object({
  _csrf: Type.Optional(Type.String()),
  email: Text,
  name: Text,
  role: Text,
  managerId: Text,
  timezone: Text,
  workingDays: Type.Optional(Type.Union([Type.String({ maxLength: 10 }), Type.Array(Type.String({ maxLength: 10 }))])),
  workStart: Text,
  workEnd: Text,
  title: Text,
  phone: Text,
});
type PersonFormBody = Static<typeof PersonForm>;
const ConfirmForm = Type.Object({ _csrf: Type.Optional(Type.String()), managerId: Text });

/** ROLES are the roles a person can have, as the forms show them. */
const ROLES: { value: StaffRole; label: string }[] = [
  { value: 'salesperson', label: 'Salesperson' },
  { value: 'executive', label: 'Executive' },
  { value: 'manager', label: 'Manager' },
];
const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'].map((label, i) => ({
  value: i + 1,
  label,
}));
const CLOCK = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
const PHONE = /^\+?[0-9 ()./-]{5,30}$/;
const ZONES: string[] = (() => {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
})();

/** FIELD_LABELS name each form field as its label does, for the error summary. */
const FIELD_LABELS: Record<string, string> = {
  email: 'Email',
  name: 'Name',
  role: 'Role',
  managerId: 'Manager',
  timezone: 'Time zone',
  workingDays: 'Working days',
  workStart: 'Start of the working day',
  workEnd: 'End of the working day',
  title: 'Job title',
  phone: 'Direct phone',
};

type Errors = Record<string, string>;
type StaffMember = Awaited<ReturnType<typeof staff.getStaff>>;
type NewStaff = Parameters<typeof staff.createStaff>[1];

/** PersonInput is the form, checked field by field; `errors` lists every field that is wrong. */
interface PersonInput {
  fields: Omit<NewStaff, 'email'> & { email?: string };
  errors: Errors;
}

function text(v: string | undefined): string {
  return (v ?? '').replace(/\s+/g, ' ').trim();
}

/**
 * readPersonForm checks each field of the add/edit form on its own, so every mistake shows beside its field at
 * once; what needs the stored data (a known manager, no loop, a free email) is the service's to check.
 */
function readPersonForm(body: PersonFormBody, withEmail: boolean): PersonInput {
  const errors: Errors = {};
  const name = text(body.name);
  if (!name) errors.name = 'Enter the person’s name';
  else if (name.length > 200) errors.name = 'Name must be 200 characters or fewer';
  let email: string | undefined;
  if (withEmail) {
    email = text(body.email);
    if (!email) errors.email = 'Enter their work email address';
    else if (email.length > 254 || !isEmailAddress(email))
      errors.email = 'Enter an email address like name@example.com';
  }
  const role = ROLES.find((r) => r.value === body.role)?.value;
  if (!role) errors.role = 'Choose a role';
  const managerId = text(body.managerId) || null;
  const timezone = text(body.timezone) || null;
  if (timezone && timezone.length > 64) errors.timezone = 'Choose a time zone from the list';
  const rawDays = body.workingDays === undefined ? [] : [body.workingDays].flat();
  const workingDays = rawDays.map(Number);
  if (workingDays.length === 0) errors.workingDays = 'Choose at least one working day';
  else if (workingDays.some((d) => !Number.isInteger(d) || d < 1 || d > 7))
    errors.workingDays = 'Choose working days from the list';
  const workStart = text(body.workStart);
  const workEnd = text(body.workEnd);
  if (!CLOCK.test(workStart)) errors.workStart = 'Enter the start as hours and minutes, like 09:00';
  if (!CLOCK.test(workEnd)) errors.workEnd = 'Enter the end as hours and minutes, like 17:00';
  else if (!errors.workStart && workEnd <= workStart) errors.workEnd = 'The day must end after it starts';
  const title = text(body.title) || null;
  if (title && title.length > 200) errors.title = 'Job title must be 200 characters or fewer';
  const phone = text(body.phone) || null;
  if (phone && !PHONE.test(phone)) errors.phone = 'Enter a phone number of digits, spaces and + ( ) . / - only';
  return {
    fields: {
      ...(email !== undefined ? { email } : {}),
      name,
      role: role ?? 'salesperson',
      managerId,
      timezone,
      workingDays: [...new Set(workingDays)].sort((a, b) => a - b),
      workStart,
      workEnd,
      title,
      phone,
    },
    errors,
  };
}

/** fieldOf names the form field a service error is about, or null when it is about the whole request. */
function fieldOf(err: unknown): string | null {
  if (err instanceof ValidationError) return err.field;
  if (err instanceof AppError && typeof err.details.field === 'string') return err.details.field;
  return null;
}

/** reasonOf is a service error's message without its "field: " prefix. */
function reasonOf(err: AppError, field: string): string {
  const m = err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message;
  return m.charAt(0).toUpperCase() + m.slice(1);
}

function blank(me: { id: string }): PersonFormBody {
  return {
    role: 'salesperson',
    managerId: me.id,
    timezone: '',
    workingDays: ['1', '2', '3', '4', '5'],
    workStart: '09:00',
    workEnd: '17:00',
  };
}

function valuesOf(p: StaffMember): PersonFormBody & { workingDayList: number[] } {
  return {
    email: p.email,
    name: p.name,
    role: p.role,
    managerId: p.managerId ?? '',
    timezone: p.timezone ?? '',
    workStart: p.workStart,
    workEnd: p.workEnd,
    title: p.title ?? '',
    phone: p.phone ?? '',
    workingDayList: p.workingDays,
  };
}

function daysOf(body: PersonFormBody): number[] {
  return (body.workingDays === undefined ? [] : [body.workingDays].flat()).map(Number);
}

/** peopleRoutes registers the People pages. */
export async function peopleRoutes(app: FastifyInstance, { ctx, email: mail }: WebDeps): Promise<void> {
  const guard = { preHandler: app.requireManager };

  async function form(
    reply: FastifyReply,
    locals: {
      person: StaffMember | null;
      values: PersonFormBody & { workingDayList?: number[] };
      errors?: Errors;
      done?: string | null;
    },
    status = 200,
  ) {
    const everyone = await staff.listStaff(ctx);
    const errors = locals.errors ?? {};
    const { person } = locals;
    return reply.page(
      'people-form',
      {
        title: person ? person.name : 'Add a person',
        person,
        values: { ...locals.values, workingDayList: locals.values.workingDayList ?? daysOf(locals.values) },
        errors,
        errorList: Object.entries(errors).map(([field, message]) => ({ field, label: FIELD_LABELS[field], message })),
        managers: everyone.filter((s) => s.active && s.id !== person?.id && s.role !== 'salesperson'),
        roles: ROLES,
        weekdays: WEEKDAYS,
        zones: ZONES,
        businessZone: ctx.settings.defaultTimezone,
        canEmail: !!mail,
        done: locals.done ?? null,
      },
      status,
    );
  }

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/manager/people',
    { ...guard, schema: { querystring: ListQuery } },
    async (req, reply) => {
      const people = await staff.listPeople(ctx);
      const q = req.query;
      return reply.page('people', {
        title: 'People',
        people,
        pending: people.filter((p) => p.pending && p.active).length,
        done: q.done ?? null,
        who: q.who ?? null,
        moved: Number(q.moved ?? 0) || 0,
        sessions: Number(q.sessions ?? 0) || 0,
      });
    },
  );

  app.get('/manager/people/new', guard, async (req, reply) =>
    form(reply, { person: null, values: blank(staffOf(req)) }),
  );

  app.post<{ Body: PersonFormBody }>(
    '/manager/people/new',
    { ...guard, schema: { body: PersonForm } },
    async (req, reply) => {
      const { fields, errors } = readPersonForm(req.body, true);
      if (Object.keys(errors).length > 0) return form(reply, { person: null, values: req.body, errors }, 400);
      try {
        const created = await staff.createStaff(ctx, fields as NewStaff, actorOf(staffOf(req)));
        return reply.redirect(`/console/manager/people?done=added&who=${encodeURIComponent(created.name)}`, 303);
      } catch (err) {
        const field = fieldOf(err);
        if (!(err instanceof AppError) || !field || !FIELD_LABELS[field]) throw err;
        return form(reply, { person: null, values: req.body, errors: { [field]: reasonOf(err, field) } }, 400);
      }
    },
  );

  app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof ListQuery> }>(
    '/manager/people/:id',
    { ...guard, schema: { params: Params, querystring: ListQuery } },
    async (req, reply) => {
      const person = await staff.getStaff(ctx, req.params.id);
      return form(reply, { person, values: valuesOf(person), done: req.query.done ?? null });
    },
  );

  app.post<{ Params: Static<typeof Params>; Body: PersonFormBody }>(
    '/manager/people/:id',
    { ...guard, schema: { params: Params, body: PersonForm } },
    async (req, reply) => {
      const person = await staff.getStaff(ctx, req.params.id);
      const values = { ...req.body, email: person.email };
      const { fields, errors } = readPersonForm(req.body, false);
      // A manager who made themselves a salesperson would lose these pages at once, with nobody to undo it.
      if (person.id === staffOf(req).id && person.role === 'manager' && fields.role !== 'manager' && !errors.role)
        errors.role = 'You cannot take away your own manager role: ask another manager to do it';
      if (Object.keys(errors).length > 0) return form(reply, { person, values, errors }, 400);
      try {
        const { email: _email, ...patch } = fields;
        await staff.updateStaff(ctx, person.id, patch, actorOf(staffOf(req)));
        return reply.redirect(`/console/manager/people/${person.id}?done=saved`, 303);
      } catch (err) {
        const field = fieldOf(err);
        if (!(err instanceof AppError) || !field || !FIELD_LABELS[field]) throw err;
        return form(reply, { person, values, errors: { [field]: reasonOf(err, field) } }, 400);
      }
    },
  );

  app.post<{ Params: Static<typeof Params>; Body: Static<typeof ConfirmForm> }>(
    '/manager/people/:id/confirm',
    { ...guard, schema: { params: Params, body: ConfirmForm } },
    async (req, reply) => {
      const person = await staff.getStaff(ctx, req.params.id);
      try {
        await staff.confirmStaff(ctx, person.id, text(req.body.managerId) || null, actorOf(staffOf(req)));
      } catch (err) {
        if (!(err instanceof ValidationError) || err.field !== 'managerId') throw err;
        return form(
          reply,
          { person, values: valuesOf(person), errors: { confirmManager: reasonOf(err, 'managerId') } },
          400,
        );
      }
      return reply.redirect(`/console/manager/people?done=confirmed&who=${encodeURIComponent(person.name)}`, 303);
    },
  );

  app.get<{ Params: Static<typeof Params> }>(
    '/manager/people/:id/deactivate',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const preview = await staff.previewDeactivation(ctx, req.params.id);
      if (!preview.member.active) return reply.redirect(`/console/manager/people/${preview.member.id}`, 303);
      return reply.page('people-deactivate', {
        title: `Deactivate ${preview.member.name}`,
        preview,
        self: preview.member.id === staffOf(req).id,
      });
    },
  );

  app.post<{ Params: Static<typeof Params> }>(
    '/manager/people/:id/deactivate',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const me = staffOf(req);
      if (req.params.id === me.id)
        throw new ConflictError('You cannot deactivate yourself: ask another manager to do it.');
      const { member, handOver } = await staff.deactivateStaff(ctx, req.params.id, actorOf(me));
      const q = new URLSearchParams({
        done: 'deactivated',
        who: member.name,
        moved: String(handOver.tasksMoved),
        sessions: String(handOver.sessionsEnded),
      });
      return reply.redirect(`/console/manager/people?${q.toString()}`, 303);
    },
  );

  app.post<{ Params: Static<typeof Params> }>(
    '/manager/people/:id/reactivate',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const member = await staff.updateStaff(ctx, req.params.id, { active: true }, actorOf(staffOf(req)));
      return reply.redirect(`/console/manager/people/${member.id}?done=reactivated`, 303);
    },
  );

  app.post<{ Params: Static<typeof Params> }>(
    '/manager/people/:id/sign-in-link',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const person = await staff.getStaff(ctx, req.params.id);
      if (!mail) throw new ConflictError('This server cannot send email: use `npm run console:link` instead.');
      if (!person.active) throw new ConflictError(`${person.name} is inactive: reactivate them first.`);
      if (person.pending) throw new ConflictError(`${person.name} is waiting for confirmation: confirm them first.`);
      await requestSignInLink(ctx, mail, person.email);
      return reply.redirect(`/console/manager/people/${person.id}?done=link`, 303);
    },
  );
}
