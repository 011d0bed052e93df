/**
 * The plan editor's use cases: the customers a manager may preview a segment's steps for, what a step looks like for
 * one of them (with warnings: a variable the customer has no value for, a letter too long for its page), a test of
 * the email to the manager's own address, and the template variables, derived from the one sample context the
 * template checks use.
 */
import { randomBytes } from 'node:crypto';
import type { EmailChannel } from '../channels/email.channel';
import { renderMessage, SAMPLE_CONTEXT, TemplateError, type MessageContext } from '../channels/templates';
import { latestCustomersOfSegment, type PreviewCustomer } from '../db/repositories/plan-preview.repository';
import { findSegment, type SegmentFields } from '../db/repositories/segment.repository';
import { checkSegment } from './segment.service';
import type { PlanStep, Segment } from '../domain/types';
import { searchCustomers } from './customer-story.service';
import { getCustomer } from './customer.service';
import type { Customer } from '../db/repositories/customer.repository';
import { buildEmail } from './email-message.service';
import { AppError, NotFoundError, ValidationError } from './errors';
import { previewStep, previewTouchContext, stepsOnDefaultWording } from './preview.service';
import { requireCustomer, scopeOf, type Viewer } from './visibility.service';
import type { ServiceContext } from './context';

/** TemplateVariable is one variable a template may use, with its value for the sample customer. */
export interface TemplateVariable {
  name: string;
  example: string;
  /** For a list: the fields of each of its items. */
  itemFields?: string[];
}

const NOT_VARIABLES = new Set(['signature', 'logoUrl']);

function flatten(prefix: string, value: unknown, out: TemplateVariable[]): void {
  if (Array.isArray(value)) {
    out.push({ name: prefix, example: '', itemFields: Object.keys((value[0] ?? {}) as object) });
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${k}` : k, v, out);
  } else {
    // Rendered, not read: the example is what {{ name }} gives, defaults and computed values included.
    out.push({
      name: prefix,
      example: renderMessage({ subject: `{{ ${prefix} }}`, body: 'x' }, SAMPLE_CONTEXT).subject,
    });
  }
}

/** templateVariables lists every variable a template may use, from SAMPLE_CONTEXT (what validation accepts). */
export function templateVariables(): TemplateVariable[] {
  const out: TemplateVariable[] = [];
  for (const [k, v] of Object.entries(SAMPLE_CONTEXT)) if (!NOT_VARIABLES.has(k)) flatten(k, v, out);
  return out;
}

/** PICK_LIMIT is how many customers the editor offers to preview for. */
const PICK_LIMIT = 10;

/** PreviewPick is who the previews are for, and whom else the manager may choose. */
export interface PreviewPick {
  customer: PreviewCustomer | null;
  recent: PreviewCustomer[];
  hits: PreviewCustomer[];
}

const nameOf = (c: { firstName: string | null; lastName: string | null }) =>
  [c.firstName, c.lastName].filter(Boolean).join(' ') || 'customer without a name';

/** customerName is how a preview customer is named on the page. */
export function customerName(c: PreviewCustomer): string {
  return nameOf(c);
}

/**
 * previewPick returns the customer the previews are for: `customerId` when the viewer may see them, else the most
 * recent customer of the segment the viewer sees (or none: the sample customer); with the segment's recent
 * customers and, for `q`, the customers found.
 */
export async function previewPick(
  ctx: ServiceContext,
  viewer: Viewer,
  segmentId: string,
  choice: { customerId?: string; q?: string },
): Promise<PreviewPick> {
  const scope = await scopeOf(ctx, viewer);
  const staffIds = scope.all ? null : scope.staffIds;
  const recent = staffIds?.length === 0 ? [] : await latestCustomersOfSegment(ctx.db, segmentId, staffIds, PICK_LIMIT);
  const q = choice.q?.trim() ?? '';
  const hits = q ? (await searchCustomers(ctx, viewer, q)).map((h) => ({ ...h, hasAddress: true })) : [];
  // An empty choice is the sample customer; none at all, the segment's most recent customer.
  let customer: PreviewCustomer | null = choice.customerId === '' ? null : (recent[0] ?? null);
  if (choice.customerId) {
    await requireCustomer(ctx, viewer, choice.customerId);
    customer = toPick(await getCustomer(ctx, choice.customerId));
  }
  return { customer, recent, hits };
}

function toPick(c: Customer): PreviewCustomer {
  return { id: c.id, firstName: c.firstName, lastName: c.lastName, email: c.email, hasAddress: c.address !== null };
}

/** StepRequest names a mail step of a segment, the customer (none: the sample) and unsaved steps to use instead. */
export interface StepRequest {
  segmentId: string;
  step: number;
  customerId?: string | null;
  draft?: Pick<Segment, 'plan' | 'content'>;
}

/** StepCheck is what the editor shows beside a mail step for one customer. */
export interface StepCheck {
  step: number;
  /** The email can be shown (the customer has an address), or the sample customer is used. */
  email: boolean;
  /** The email's subject and plain text for this customer, when it can be shown. */
  subject: string | null;
  text: string | null;
  letter: boolean;
  warnings: string[];
}

const REFERENCE = /\b(customer|sale|sender|business|content|links)\.([A-Za-z]+)\b/g;

function referencedVariables(step: PlanStep): string[] {
  const text = `${step.template?.subject ?? ''}\n${step.template?.body ?? ''}`;
  return [...new Set([...text.matchAll(REFERENCE)].map((m) => `${m[1]}.${m[2]}`))];
}

function emptyFor(name: string, message: MessageContext): boolean {
  try {
    return renderMessage({ subject: `{{ ${name} }}`, body: 'x' }, message).subject === '';
  } catch {
    return false;
  }
}

/**
 * checkStep renders a saved mail step for the customer (or the sample) as an email and as a letter and says what a
 * manager should know: a variable it uses that is empty for this customer, a channel the customer cannot get, a
 * content block still empty, a letter that does not fit its page.
 */
export async function checkStep(ctx: ServiceContext, viewer: Viewer, p: StepRequest): Promise<StepCheck> {
  const stored = await findSegment(ctx.db, p.segmentId);
  if (!stored) throw new NotFoundError('segment', p.segmentId);
  const segment = p.draft ? { ...stored, ...p.draft } : stored;
  const step = segment.plan.find((s) => s.step === p.step);
  if (!step || step.channel !== 'mail' || !step.template)
    throw new ValidationError('step', `step ${p.step} is not a letter or email`);
  const customerId = p.customerId ?? undefined;
  if (customerId) await requireCustomer(ctx, viewer, customerId);
  const warnings: string[] = [];
  const base = { segmentId: p.segmentId, step: p.step, customerId, draft: p.draft };
  const tc = await previewTouchContext(ctx, { ...base, channel: 'email' }).catch((err) => {
    if (err instanceof ValidationError && err.field === 'channel') return null;
    throw err;
  });
  const letterTc = tc?.customer.address
    ? tc
    : await previewTouchContext(ctx, { ...base, channel: 'letter' }).catch((err) => {
        if (err instanceof ValidationError && err.field === 'channel') return null;
        throw err;
      });
  const any = tc ?? letterTc;
  if (!tc && !letterTc) warnings.push('This customer has neither an email address nor a postal address.');
  else if (!tc) warnings.push('This customer has no email address: this step would go to them as a letter.');
  else if (!letterTc) warnings.push('This customer has no postal address: no letter can be shown.');
  if (tc && (tc.customer.emailOptOut || tc.customer.emailStatus === 'bounced'))
    warnings.push(
      `This customer ${tc.customer.emailOptOut ? 'opted out of emails' : 'has an email address that bounced'}: ` +
        'they would get this step as a letter.',
    );
  if (any) {
    if (customerId && !any.sale)
      warnings.push('No sale on record for this customer: {{ sale.mainItem }} reads "purchase".');
    const empty = referencedVariables(step).filter((name) => emptyFor(name, any.message));
    for (const name of empty)
      warnings.push(
        name.startsWith('content.')
          ? `The segment's ${name} block is empty: the step reads without it.`
          : `{{ ${name} }} is empty for this customer.`,
      );
  }
  if (stepsOnDefaultWording(segment).includes(step.step) && !warnings.some((w) => w.includes('block is empty')))
    warnings.push('A content block this step uses is empty: it goes out on its default wording.');
  if (letterTc) {
    try {
      await previewStep(ctx, { ...base, channel: 'letter' });
    } catch (err) {
      if (err instanceof ValidationError && err.field === 'letter')
        warnings.push(`As a letter it ${err.message.replace(/^letter: /, '')}`);
      else if (err instanceof TemplateError) warnings.push(`As a letter it does not render: ${err.message}`);
      else throw err;
    }
  }
  const built = tc ? buildEmail(tc, tc.customer.email!, ctx.settings.publicUrl).email : null;
  return {
    step: step.step,
    email: tc !== null,
    subject: built?.subject ?? null,
    text: built?.text ?? null,
    letter: letterTc !== null,
    warnings,
  };
}

/**
 * checkDraft validates a segment as the editor's form has it, without saving it (segment.service's checkSegment, the
 * one that saving runs), throwing a ValidationError naming the field.
 */
export async function checkDraft(ctx: ServiceContext, fields: SegmentFields): Promise<void> {
  await checkSegment(fields, ctx.db);
}

/**
 * previewLetter renders a saved mail step as the letter the customer (or the sample) would get; a letter that does
 * not fit its page is a ValidationError saying why, not a failure.
 */
export async function previewLetter(
  ctx: ServiceContext,
  viewer: Viewer,
  p: { segmentId: string; step: number; customerId?: string | null },
): Promise<Uint8Array> {
  const customerId = p.customerId ?? undefined;
  if (customerId) await requireCustomer(ctx, viewer, customerId);
  const preview = await previewStep(ctx, { segmentId: p.segmentId, step: p.step, channel: 'letter', customerId });
  if (preview.channel !== 'letter') throw new RangeError('a letter preview that is not a letter');
  return preview.pdf;
}

/** TestSendResult says whether the test email was accepted, and to which address. */
export type TestSendResult = { ok: true; to: string } | { ok: false; to: string; reason: string };

/**
 * sendTestEmail renders a saved mail step as the email the customer (or the sample) would get and sends it to `to`,
 * the manager's own address, marked as a test: "[Test]" before the subject and an X-Rapport-Test header, no
 * unsubscribe header (it would act for the customer), and nothing recorded: no touch, no event.
 */
export async function sendTestEmail(
  ctx: ServiceContext,
  email: EmailChannel | null | undefined,
  viewer: Viewer,
  p: StepRequest,
  to: string,
): Promise<TestSendResult> {
  if (!email) throw new AppError('unavailable', 'this server cannot send email (no SMTP_URL)');
  const customerId = p.customerId ?? undefined;
  if (customerId) await requireCustomer(ctx, viewer, customerId);
  const tc = await previewTouchContext(ctx, {
    segmentId: p.segmentId,
    step: p.step,
    channel: 'email',
    customerId,
    draft: p.draft,
  });
  const built = buildEmail(tc, to, ctx.settings.publicUrl).email;
  const host = new URL(ctx.settings.publicUrl).hostname;
  const sent = await email.send({
    ...built,
    to,
    subject: `[Test] ${built.subject}`,
    messageId: `<test.${randomBytes(8).toString('hex')}@${host}>`,
    headers: { 'X-Rapport-Test': 'yes' },
  });
  return sent.ok ? { ok: true, to } : { ok: false, to, reason: sent.reason };
}
