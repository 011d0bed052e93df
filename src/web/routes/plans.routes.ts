/**
 * The plan editor: POST /console/manager/segments (a new segment), GET|POST /console/manager/segments/:id (match
 * rules, send window, later years, content blocks and each step of the plan, with the plan's versions), and beside
 * each letter or email step its preview for a customer the manager picks: GET .../steps/:step/email (the email's
 * HTML, for a sandboxed frame), GET .../steps/:step/letter.pdf, POST .../steps/:step/test (sent to the manager).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LaterYears, PlanStep, Segment, SegmentContent, StaffRole } from '../../domain/types';
import { AppError, ValidationError } from '../../services/errors';
import {
  checkDraft,
  checkStep,
  customerName,
  previewLetter,
  previewPick,
  sendTestEmail,
  templateVariables,
} from '../../services/plan-editor.service';
import { previewStep } from '../../services/preview.service';
import { createSegment, listPlanVersions, listSegments, updateSegment } from '../../services/segment.service';
import { listStaff } from '../../services/staff.service';
import { requireCustomer, type Viewer } from '../../services/visibility.service';
import { actorOf, staffOf } from '../auth';
import type { WebDeps } from '../plugin';

const Id = Type.String({ format: 'uuid' });
const Params = Type.Object({ id: Id });
const StepParams = Type.Object({ id: Id, step: Type.Integer({ minimum: 1, maximum: 1000 }) });
const EditorQuery = Type.Object({
  customer: Type.Optional(Type.Union([Id, Type.Literal('')])),
  q: Type.Optional(Type.String({ maxLength: 200 })),
  saved: Type.Optional(Type.String({ maxLength: 10 })),
  tested: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
});
const PreviewQuery = Type.Object({ customer: Type.Optional(Type.Union([Id, Type.Literal('')])) });
const NewSegmentForm = Type.Object({
  _csrf: Type.Optional(Type.String()),
  name: Type.String({ maxLength: 200 }),
  priority: Type.String({ maxLength: 20 }),
});

/** DAYS are the weekdays of a send window, ISO numbered. */
const DAYS = [
  { n: 1, name: 'Monday' },
  { n: 2, name: 'Tuesday' },
  { n: 3, name: 'Wednesday' },
  { n: 4, name: 'Thursday' },
  { n: 5, name: 'Friday' },
  { n: 6, name: 'Saturday' },
  { n: 7, name: 'Sunday' },
];
const ROLES: StaffRole[] = ['salesperson', 'executive', 'manager'];
const BLOCKS = [
  { key: 'careTips', label: 'Care tips', hint: 'Used by the default plan’s steps 3 and 6 ({{ content.careTips }}).' },
  { key: 'whatsNew', label: 'What’s new', hint: 'Used by step 4 ({{ content.whatsNew }}).' },
  { key: 'serviceOffer', label: 'An offer of service', hint: 'Used by step 5 ({{ content.serviceOffer }}).' },
] as const;
const OFFSET_UNITS = ['years', 'months', 'weeks', 'days'] as const;

/** Fields is a whole segment as the form gives it: every part present. */
type Fields = Omit<Segment, 'id' | 'isDefault' | 'planVersion'>;

/** StepDraft is one step as the form shows it. */
interface StepDraft {
  row: number;
  step: string;
  channel: string;
  years: string;
  months: string;
  weeks: string;
  days: string;
  role: string;
  purpose: string;
  subject: string;
  body: string;
  talkingPoints: string;
  customerDescription: string;
  trigger: string;
  remove: boolean;
  errors: Record<string, string>;
}

/** Draft is the whole form as shown: a stored segment, or what the manager posted. */
interface Draft {
  name: string;
  priority: string;
  categories: string;
  skus: string;
  sources: string;
  minTotal: string;
  maxTotal: string;
  days: number[];
  start: string;
  end: string;
  humanContact: string;
  content: Record<string, string>;
  steps: StepDraft[];
}

type Form = Record<string, string | string[] | undefined>;

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));
const first = (v: string | string[] | undefined) => (Array.isArray(v) ? (v[0] ?? '') : (v ?? ''));
const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

function stepDraft(s: PlanStep, row: number): StepDraft {
  return {
    row,
    step: String(s.step),
    channel: s.channel,
    years: str(s.offset.years),
    months: str(s.offset.months),
    weeks: str(s.offset.weeks),
    days: str(s.offset.days),
    role: (s.channel === 'call' ? s.assignee : s.sender) ?? 'salesperson',
    purpose: s.purpose,
    subject: s.template?.subject ?? '',
    body: s.template?.body ?? '',
    talkingPoints: (s.talkingPoints ?? []).join('\n'),
    customerDescription: s.customerDescription ?? '',
    trigger: s.trigger ?? '',
    remove: false,
    errors: {},
  };
}

function draftOf(s: Segment): Draft {
  return {
    name: s.name,
    priority: String(s.priority),
    categories: (s.match.categories ?? []).join(', '),
    skus: (s.match.skus ?? []).join(', '),
    sources: (s.match.sources ?? []).join(', '),
    minTotal: s.match.minTotal ?? '',
    maxTotal: s.match.maxTotal ?? '',
    days: s.sendWindow.days,
    start: s.sendWindow.start,
    end: s.sendWindow.end,
    humanContact: s.laterYears.humanContact,
    content: { careTips: '', whatsNew: '', serviceOffer: '', ...s.content },
    steps: s.plan.map(stepDraft),
  };
}

function formDraft(body: Form): Draft {
  const rows = Math.min(Number(first(body.rows)) || 0, 60);
  const steps: StepDraft[] = [];
  for (let i = 0; i < rows; i++) {
    const f = (k: string) => first(body[`s${i}.${k}`]);
    if (body[`s${i}.step`] === undefined) continue;
    steps.push({
      row: i,
      step: f('step'),
      channel: f('channel'),
      years: f('years'),
      months: f('months'),
      weeks: f('weeks'),
      days: f('days'),
      role: f('role'),
      purpose: f('purpose'),
      subject: f('subject'),
      body: f('body'),
      talkingPoints: f('talkingPoints'),
      customerDescription: f('customerDescription'),
      trigger: f('trigger'),
      remove: f('remove') === 'yes',
      errors: {},
    });
  }
  const days = ([] as string[]).concat(body.days ?? []).map(Number);
  return {
    name: first(body.name),
    priority: first(body.priority),
    categories: first(body.categories),
    skus: first(body.skus),
    sources: first(body.sources),
    minTotal: first(body.minTotal).trim(),
    maxTotal: first(body.maxTotal).trim(),
    days,
    start: first(body.start).trim(),
    end: first(body.end).trim(),
    humanContact: first(body.humanContact),
    content: Object.fromEntries(BLOCKS.map((b) => [b.key, first(body[b.key])])),
    steps,
  };
}

/** FieldError is a problem with one field of the form: its element id, a label for the summary, the reason. */
interface FieldError {
  id: string;
  label: string;
  message: string;
}

class FormProblem extends Error {
  constructor(readonly problem: FieldError) {
    super(problem.message);
  }
}

function whole(value: string, id: string, label: string, min = 0): number | undefined {
  if (value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new FormProblem({ id, label, message: `must be a whole number${min > 0 ? ` from ${min}` : ''}` });
  return n;
}

/** inputOf turns the draft into what the service takes; the rows marked "remove" are left out. */
function inputOf(d: Draft): { input: Fields; rowOfPlanIndex: number[] } {
  const kept = d.steps.filter((s) => !s.remove);
  const plan: PlanStep[] = kept.map((s) => {
    const at = `s${s.row}`;
    const offset: PlanStep['offset'] = {};
    for (const unit of OFFSET_UNITS) {
      const n = whole(s[unit], `${at}-${unit}`, `Step ${s.step}, ${unit}`);
      if (n !== undefined && n > 0) offset[unit] = n;
    }
    const step: PlanStep = {
      step: whole(s.step, `${at}-purpose`, `Step ${s.step}`, 1) ?? 0,
      offset,
      channel: s.channel === 'call' ? 'call' : 'mail',
      purpose: s.purpose.trim(),
    };
    const role = (ROLES as string[]).includes(s.role) ? (s.role as StaffRole) : 'salesperson';
    if (step.channel === 'call') {
      step.assignee = role;
      const points = s.talkingPoints
        .split('\n')
        .map((p) => p.trim())
        .filter(Boolean);
      if (points.length) step.talkingPoints = points;
    } else {
      step.sender = role;
      if (s.subject.trim() || s.body.trim()) step.template = { subject: s.subject.trim(), body: s.body };
    }
    if (s.customerDescription.trim()) step.customerDescription = s.customerDescription.trim();
    if (s.trigger === 'referral') step.trigger = 'referral';
    return step;
  });
  const content: SegmentContent = {};
  for (const b of BLOCKS) content[b.key] = d.content[b.key] ?? '';
  const match: Fields['match'] = {};
  if (list(d.categories).length) match.categories = list(d.categories);
  if (list(d.skus).length) match.skus = list(d.skus);
  if (list(d.sources).length) match.sources = list(d.sources);
  if (d.minTotal) match.minTotal = d.minTotal;
  if (d.maxTotal) match.maxTotal = d.maxTotal;
  return {
    input: {
      name: d.name.trim(),
      priority: whole(d.priority, 'f-priority', 'Priority') ?? 100,
      match,
      plan,
      sendWindow: { days: d.days.filter((n) => Number.isInteger(n)), start: d.start, end: d.end },
      laterYears: { humanContact: (d.humanContact === 'letter' ? 'letter' : 'call') as LaterYears['humanContact'] },
      content,
    },
    rowOfPlanIndex: kept.map((s) => s.row),
  };
}

const TOP_FIELDS: Record<string, { id: string; label: string }> = {
  name: { id: 'f-name', label: 'Name' },
  priority: { id: 'f-priority', label: 'Priority' },
  'match.categories': { id: 'f-categories', label: 'Categories' },
  'match.skus': { id: 'f-skus', label: 'SKUs' },
  'match.sources': { id: 'f-sources', label: 'Sources' },
  'match.minTotal': { id: 'f-minTotal', label: 'Smallest total' },
  'match.maxTotal': { id: 'f-maxTotal', label: 'Largest total' },
  'sendWindow.days': { id: 'f-day-1', label: 'Days' },
  'sendWindow.start': { id: 'f-start', label: 'From' },
  'sendWindow.end': { id: 'f-end', label: 'Until' },
  laterYears: { id: 'f-humanContact', label: 'After the first year' },
  'content.careTips': { id: 'f-careTips', label: 'Care tips' },
  'content.whatsNew': { id: 'f-whatsNew', label: 'What’s new' },
  'content.serviceOffer': { id: 'f-serviceOffer', label: 'An offer of service' },
  plan: { id: 'steps-h', label: 'Steps' },
};

const STEP_FIELDS: Record<string, { key: string; label: string }> = {
  step: { key: 'purpose', label: 'step number' },
  offset: { key: 'offset', label: 'when' },
  channel: { key: 'channel', label: 'how' },
  sender: { key: 'role', label: 'signed by' },
  assignee: { key: 'role', label: 'called by' },
  purpose: { key: 'purpose', label: 'purpose' },
  template: { key: 'body', label: 'message' },
  talkingPoints: { key: 'talkingPoints', label: 'talking points' },
  customerDescription: { key: 'customerDescription', label: 'what the customer is told' },
  trigger: { key: 'trigger', label: 'starts from' },
};

/** fieldErrorOf places a service's ValidationError beside the form field it names. */
function fieldErrorOf(err: ValidationError | AppError, d: Draft, rowOfPlanIndex: number[]): FieldError {
  const field = String(err.details.field ?? (err as ValidationError).field ?? '');
  let reason = err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message;
  // The service names fields as the API does; the form's own labels read better ("after From", not sendWindow.start).
  reason = reason.replace(
    /\b(sendWindow\.start|sendWindow\.end|match\.minTotal|match\.maxTotal)\b/g,
    (k) => `“${TOP_FIELDS[k]!.label}”`,
  );
  const m = /^plan\.(\d+)(?:\.([A-Za-z]+))?(?:\.([A-Za-z]+))?/.exec(field);
  if (m) {
    const row = rowOfPlanIndex[Number(m[1])];
    const step = d.steps.find((s) => s.row === row);
    const where = STEP_FIELDS[m[2] ?? 'purpose'] ?? STEP_FIELDS.purpose!;
    // A template's error names its part: "subject: ..." or "body: ...".
    const part = m[2] === 'template' ? (m[3] ?? /^(subject|body): /.exec(reason)?.[1]) : undefined;
    if (part && reason.startsWith(`${part}: `)) reason = reason.slice(part.length + 2);
    const key = part === 'subject' ? 'subject' : where.key;
    const id = key === 'offset' ? `s${row}-offset` : `s${row}-${key}`;
    if (step) step.errors[key] = reason;
    return {
      id,
      label: `Step ${step?.step ?? Number(m[1]) + 1}, ${key === 'subject' ? 'subject' : where.label}`,
      message: reason,
    };
  }
  const top = Object.entries(TOP_FIELDS).find(([k]) => field === k || field.startsWith(`${k}.`));
  const at = top?.[1] ?? { id: 'f-name', label: field || 'Form' };
  return { id: at.id, label: at.label, message: reason };
}

/** problemOf places a form or service error beside its field, or rethrows what is not the input's fault. */
function problemOf(err: unknown, d: Draft, rowOfPlanIndex: number[]): FieldError {
  if (err instanceof FormProblem) {
    let problem = err.problem;
    const m = /^s(\d+)-(\w+)$/.exec(problem.id);
    const step = m && d.steps.find((s) => s.row === Number(m[1]));
    if (step) step.errors[OFFSET_UNITS.includes(m[2] as never) ? 'offset' : m[2]!] = problem.message;
    if (m && OFFSET_UNITS.includes(m[2] as never)) problem = { ...problem, id: `s${m[1]}-offset` };
    return problem;
  }
  if (err instanceof AppError && (err.code === 'validation_failed' || err.code === 'conflict'))
    return fieldErrorOf(err, d, rowOfPlanIndex);
  throw err;
}

function viewerOf(req: FastifyRequest): Viewer {
  return { role: 'staff', staffId: staffOf(req).id };
}

const EMAIL_FRAME_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; frame-ancestors 'self'; " +
  "base-uri 'none'; form-action 'none'; sandbox";

/** planRoutes registers the plan editor and its previews. */
export async function planRoutes(app: FastifyInstance, { ctx, email }: WebDeps): Promise<void> {
  const guard = { preHandler: app.requireManager };
  const variables = templateVariables().map((v) => ({
    ...v,
    tag: v.itemFields ? v.name : `{{ ${v.name} }}`,
    loop: v.itemFields ? `{% for item in ${v.name} %}{{ item.${v.itemFields[0]} }}{% endfor %}` : '',
  }));

  async function editorPage(
    req: FastifyRequest,
    reply: FastifyReply,
    segment: Segment,
    d: Draft,
    opts: {
      errors?: FieldError[];
      status?: number;
      customerId?: string;
      q?: string;
      saved?: string | null;
      tested?: string | null;
      added?: boolean;
      /** Unsaved steps and content to preview (the form's), instead of the saved plan. */
      draft?: Pick<Segment, 'plan' | 'content'>;
    } = {},
  ) {
    const viewer = viewerOf(req);
    const [versions, staff, pick] = await Promise.all([
      listPlanVersions(ctx, segment.id),
      listStaff(ctx),
      previewPick(ctx, viewer, segment.id, { customerId: opts.customerId, q: opts.q }),
    ]);
    const names = new Map(staff.map((s) => [`staff:${s.id}`, s.name]));
    const customerId = pick.customer?.id ?? null;
    // Previews are of the saved plan, or of the form's unsaved one, for the chosen customer (or the sample one).
    const draft = opts.draft;
    const checks = new Map<number, Awaited<ReturnType<typeof checkStep>>>();
    for (const s of (draft ?? segment).plan)
      if (s.channel === 'mail' && s.template)
        checks.set(s.step, await checkStep(ctx, viewer, { segmentId: segment.id, step: s.step, customerId, draft }));
    const errors = opts.errors ?? [];
    const topErrors = Object.fromEntries(errors.filter((e) => e.id.startsWith('f-')).map((e) => [e.id, e.message]));
    const saved = new Set(segment.plan.map((s) => String(s.step)));
    return reply.page(
      'manager-segment',
      {
        title: errors.length ? `Error: ${segment.name}` : `Plan: ${segment.name}`,
        segment,
        d,
        errors,
        topErrors,
        stepsError: errors.find((e) => e.id === 'steps-h')?.message ?? null,
        steps: d.steps.map((s) => ({
          ...s,
          preview: draft || saved.has(s.step) ? (checks.get(Number(s.step)) ?? null) : null,
          isNew: !saved.has(s.step),
        })),
        rows: d.steps.reduce((n, s) => Math.max(n, s.row + 1), 0),
        versions: versions.versions.map((v) => ({
          ...v,
          who: (v.createdBy && names.get(v.createdBy)) || v.createdBy || 'someone',
        })),
        unversionedRunning: versions.unversionedRunning,
        pick,
        customerId: customerId ?? '',
        customerLabel: pick.customer ? customerName(pick.customer) : null,
        pickList: [...pick.recent, ...pick.hits.filter((h) => !pick.recent.some((r) => r.id === h.id))].map((c) => ({
          id: c.id,
          label: `${customerName(c)}${c.email ? ` (${c.email})` : ''}`,
        })),
        q: opts.q ?? '',
        searched: (opts.q ?? '').trim().length > 0,
        saved: opts.saved ?? null,
        tested: opts.tested ?? null,
        added: opts.added ?? false,
        draftMode: Boolean(draft),
        variables,
        example: '{{ customer.firstName }}',
        channelIf: '{% if channel == "letter" %}...{% else %}...{% endif %}',
        days: DAYS,
        roles: ROLES,
        ruleFields: [
          {
            id: 'f-categories',
            name: 'categories',
            label: 'Categories',
            value: d.categories,
            hint: 'Any of these product categories, separated by commas.',
          },
          {
            id: 'f-skus',
            name: 'skus',
            label: 'SKUs',
            value: d.skus,
            hint: 'Any of these product codes, separated by commas.',
          },
          {
            id: 'f-sources',
            name: 'sources',
            label: 'Sources',
            value: d.sources,
            hint: 'Where the sale came from (a shop’s till, the web shop), separated by commas.',
          },
          {
            id: 'f-minTotal',
            name: 'minTotal',
            label: 'Smallest total',
            value: d.minTotal,
            hint: 'The sale’s total at least this much, e.g. 500 or 499.95.',
            short: true,
          },
          {
            id: 'f-maxTotal',
            name: 'maxTotal',
            label: 'Largest total',
            value: d.maxTotal,
            hint: 'The sale’s total at most this much.',
            short: true,
          },
        ],
        blocks: BLOCKS.map((b) => ({ ...b, id: `f-${b.key}`, value: d.content[b.key] ?? '' })),
        canEmail: Boolean(email),
      },
      opts.status,
    );
  }

  /** checkedDraft parses the form and, when asked, validates it as saving would (saving validates it itself). */
  async function checkedDraft(
    d: Draft,
    validate: boolean,
  ): Promise<{ fields: Fields; rowOfPlanIndex: number[] } | { problem: FieldError }> {
    let rowOfPlanIndex: number[] = [];
    try {
      const parsed = inputOf(d);
      rowOfPlanIndex = parsed.rowOfPlanIndex;
      if (validate) await checkDraft(ctx, parsed.input);
      return { fields: parsed.input, rowOfPlanIndex };
    } catch (err) {
      return { problem: problemOf(err, d, rowOfPlanIndex) };
    }
  }

  async function segmentOr404(id: string): Promise<Segment> {
    const segment = (await listSegments(ctx)).find((s) => s.id === id);
    if (!segment) throw new AppError('not_found', `segment ${id} not found`);
    return segment;
  }

  app.post<{ Body: Static<typeof NewSegmentForm> }>(
    '/manager/segments',
    { ...guard, schema: { body: NewSegmentForm } },
    async (req, reply) => {
      const name = req.body.name.trim();
      const problem = async (id: string, label: string, message: string) =>
        reply.page(
          'manager-segments',
          {
            title: 'Error: Segments and plans',
            segments: await listSegments(ctx),
            errors: [{ id, label, message }],
            newName: req.body.name,
            newPriority: req.body.priority,
          },
          400,
        );
      if (!name) return problem('new-name', 'Name', 'give the segment a name');
      const priority = Number(req.body.priority);
      if (req.body.priority.trim() === '' || !Number.isInteger(priority) || priority < 0)
        return problem('new-priority', 'Priority', 'must be a whole number, 0 or more');
      try {
        const created = await createSegment(ctx, { name, priority }, actorOf(staffOf(req)));
        return reply.redirect(`/console/manager/segments/${created.id}?saved=new`, 303);
      } catch (err) {
        if (err instanceof AppError && (err.code === 'validation_failed' || err.code === 'conflict')) {
          const field = String(err.details.field ?? '');
          const message = err.message.replace(/^[a-zA-Z.]+: /, '');
          return field === 'priority'
            ? problem('new-priority', 'Priority', message)
            : problem('new-name', 'Name', message);
        }
        throw err;
      }
    },
  );

  app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof EditorQuery> }>(
    '/manager/segments/:id',
    { ...guard, schema: { params: Params, querystring: EditorQuery } },
    async (req, reply) => {
      const segment = await segmentOr404(req.params.id);
      return editorPage(req, reply, segment, draftOf(segment), {
        customerId: req.query.customer,
        q: req.query.q,
        saved: req.query.saved ?? null,
        tested: req.query.tested ?? null,
      });
    },
  );

  app.post<{ Params: Static<typeof Params>; Body: Form }>(
    '/manager/segments/:id',
    { ...guard, schema: { params: Params } },
    async (req, reply) => {
      const segment = await segmentOr404(req.params.id);
      const d = formDraft(req.body ?? {});
      // '' is the sample customer; absent, the segment's latest.
      const customerId = req.body?.previewCustomer === undefined ? undefined : first(req.body.previewCustomer);
      if (first(req.body?.add) === 'step') {
        const next = d.steps.reduce((n, s) => Math.max(n, Number(s.step) || 0), 0) + 1;
        const row = d.steps.reduce((n, s) => Math.max(n, s.row + 1), 0);
        d.steps.push({
          ...stepDraft({ step: next, offset: {}, channel: 'mail', purpose: '' }, row),
          role: 'salesperson',
        });
        return editorPage(req, reply, segment, d, { customerId, added: true });
      }
      const previewing = first(req.body?.preview) === 'draft';
      const checked = await checkedDraft(d, previewing);
      if ('problem' in checked)
        return editorPage(req, reply, segment, d, { errors: [checked.problem], status: 400, customerId });
      if (previewing) return editorPage(req, reply, segment, d, { customerId, draft: checked.fields });
      try {
        const before = segment.planVersion;
        const updated = await updateSegment(ctx, segment.id, checked.fields, actorOf(staffOf(req)));
        const saved = updated.planVersion !== before ? `v${updated.planVersion}` : 'same';
        const q = new URLSearchParams({ saved, ...(customerId !== undefined ? { customer: customerId } : {}) });
        return reply.redirect(`/console/manager/segments/${segment.id}?${q}`, 303);
      } catch (err) {
        const problem = problemOf(err, d, checked.rowOfPlanIndex);
        return editorPage(req, reply, segment, d, { errors: [problem], status: 400, customerId });
      }
    },
  );

  app.get<{ Params: Static<typeof StepParams>; Querystring: Static<typeof PreviewQuery> }>(
    '/manager/segments/:id/steps/:step/email',
    { ...guard, schema: { params: StepParams, querystring: PreviewQuery } },
    async (req, reply) => {
      const customerId = req.query.customer || undefined;
      if (customerId) await requireCustomer(ctx, viewerOf(req), customerId);
      const preview = await previewStep(ctx, {
        segmentId: req.params.id,
        step: req.params.step,
        channel: 'email',
        customerId,
      });
      if (preview.channel !== 'email') throw new ValidationError('channel', 'not an email');
      // The email's own HTML, framed by the editor: inline styles as a mail client shows them, nothing else runs.
      return reply
        .header('content-security-policy', EMAIL_FRAME_CSP)
        .header('x-frame-options', 'SAMEORIGIN')
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(preview.html);
    },
  );

  app.get<{ Params: Static<typeof StepParams>; Querystring: Static<typeof PreviewQuery> }>(
    '/manager/segments/:id/steps/:step/letter.pdf',
    { ...guard, schema: { params: StepParams, querystring: PreviewQuery } },
    async (req, reply) => {
      const pdf = await previewLetter(ctx, viewerOf(req), {
        segmentId: req.params.id,
        step: req.params.step,
        customerId: req.query.customer || null,
      });
      return reply
        .header('content-disposition', `inline; filename="step-${req.params.step}-letter.pdf"`)
        .header('cache-control', 'no-store')
        .type('application/pdf')
        .send(Buffer.from(pdf));
    },
  );

  app.post<{ Params: Static<typeof StepParams>; Body: Form }>(
    '/manager/segments/:id/steps/:step/test',
    { ...guard, schema: { params: StepParams } },
    async (req, reply) => {
      const me = staffOf(req);
      const picked = req.body?.previewCustomer === undefined ? undefined : first(req.body.previewCustomer);
      const customerId = picked || null;
      // From the editor's form, the test is of the form's steps as they stand, saved or not.
      const fromForm = req.body?.rows !== undefined;
      const segment = await segmentOr404(req.params.id);
      const d = fromForm ? formDraft(req.body) : null;
      const checked = d ? await checkedDraft(d, true) : null;
      if (d && checked && 'problem' in checked)
        return editorPage(req, reply, segment, d, {
          errors: [checked.problem],
          status: 400,
          customerId: picked,
        });
      const draft = checked && 'fields' in checked ? checked.fields : undefined;
      const sent = await sendTestEmail(
        ctx,
        email,
        viewerOf(req),
        { segmentId: req.params.id, step: req.params.step, customerId, draft },
        me.email,
      );
      if (!sent.ok) throw new AppError('unavailable', `the test email was not sent: ${sent.reason}`);
      if (d && draft)
        return editorPage(req, reply, segment, d, {
          customerId: picked,
          draft,
          tested: String(req.params.step),
        });
      const q = new URLSearchParams({
        tested: String(req.params.step),
        ...(picked !== undefined ? { customer: picked } : {}),
      });
      return reply.redirect(`/console/manager/segments/${req.params.id}?${q}#step-${req.params.step}`, 303);
    },
  );
}
