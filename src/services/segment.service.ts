/**
 * Segments: validating and saving match rules, plans and send windows. Saving a plan never touches plans already
 * running: each run keeps the snapshot of steps it started with.
 */
import type { Database } from '../db/database';
import * as repo from '../db/repositories/segment.repository';
import { audit } from '../db/repositories/access.repository';
import { parseClock } from '../domain/schedule';
import type { PlanStep, Segment, SegmentContent, SendWindow } from '../domain/types';
import {
  renderMessage,
  SAMPLE_CONTEXT,
  validateTemplate,
  type MessageContext,
  type MessageTemplate,
} from '../channels/templates';
import { findFirstActiveByRole } from '../db/repositories/staff.repository';
import { LetterTooLongError } from '../channels/letter.channel';
import { checkLetterTemplate } from './letter.service';
import { ConflictError, NotFoundError, ValidationError } from './errors';
import { isUniqueViolation, type ServiceContext } from './context';

/** SegmentInput is a segment as a manager writes it; omitted parts take the defaults. */
export type SegmentInput = Partial<Omit<Segment, 'id' | 'isDefault' | 'name'>> & { name: string };

function checkWindow(w: SendWindow): void {
  if (w.days.length === 0 || new Set(w.days).size !== w.days.length)
    throw new ValidationError('sendWindow.days', 'must list distinct weekdays 1 to 7');
  const start = parseClock(w.start);
  const end = parseClock(w.end);
  if (start === null) throw new ValidationError('sendWindow.start', 'must be HH:mm');
  if (end === null) throw new ValidationError('sendWindow.end', 'must be HH:mm');
  if (start >= end) throw new ValidationError('sendWindow.end', 'must be after sendWindow.start');
}

/** LETTER_WORDING is what a letter must never say: a letter cannot be replied to or clicked. */
const LETTER_WORDING = /\b(reply|replying|click|clicking|tap|unsubscribe)\b|\bthis (e-?mail|message)\b/i;
/** EMAIL_WORDING is what an email must never say about itself. */
const EMAIL_WORDING = /\bthis letter\b/i;

/**
 * checkWording renders a mail step for the sample customer as a letter and as an email and refuses wording that does
 * not fit the channel (a letter saying "reply to this message"); templates can word things per channel with
 * {% if channel == "letter" %}.
 */
function checkWording(at: string, template: MessageTemplate, content: SegmentContent): void {
  const sample = {
    ...(SAMPLE_CONTEXT as MessageContext),
    content: { careTips: '', whatsNew: '', serviceOffer: '', ...content },
  };
  for (const channel of ['letter', 'email'] as const) {
    const r = renderMessage(template, { ...sample, channel });
    const said = `${r.subject}\n${r.body}`;
    const wrong = (channel === 'letter' ? LETTER_WORDING : EMAIL_WORDING).exec(said);
    if (wrong)
      throw new ValidationError(
        `${at}.template`,
        `as ${channel === 'letter' ? 'a letter' : 'an email'} it says "${wrong[0]}", which does not fit; word it for both ` +
          '(or use {% if channel == "letter" %}...{% else %}...{% endif %})',
      );
  }
}

async function checkPlan(plan: PlanStep[], content: SegmentContent = {}, db?: Database): Promise<void> {
  const seen = new Set<number>();
  for (const [i, step] of plan.entries()) {
    const at = `plan.${i}`;
    if (seen.has(step.step)) throw new ValidationError(`${at}.step`, `step ${step.step} appears twice`);
    seen.add(step.step);
    const { years = 0, months = 0, weeks = 0, days = 0 } = step.offset;
    if (years + months + weeks + days <= 0) throw new ValidationError(`${at}.offset`, 'must be after the sale');
    if (step.channel === 'mail' && !step.template)
      throw new ValidationError(`${at}.template`, 'is required for a letter or email step');
    if (step.channel === 'call' && !step.talkingPoints?.length)
      throw new ValidationError(`${at}.talkingPoints`, 'a call needs at least one talking point');
    try {
      validateTemplate({
        subject: step.template?.subject ?? '',
        body: step.template?.body ?? '',
        talkingPoints: step.talkingPoints,
      });
    } catch (err) {
      throw new ValidationError(`${at}.template`, (err as Error).message);
    }
    if (step.customerDescription !== undefined) {
      try {
        validateTemplate({ subject: step.customerDescription, body: '' });
      } catch (err) {
        throw new ValidationError(`${at}.customerDescription`, (err as Error).message.replace(/^subject: /, ''));
      }
    }
    // The role that signs must be there to sign, or the step would go out signed by someone else.
    if (db && step.channel === 'mail' && step.sender && step.sender !== 'salesperson') {
      if (!(await findFirstActiveByRole(db, step.sender)))
        throw new ValidationError(
          `${at}.sender`,
          `no active ${step.sender} on staff to sign this step: add one (POST /v1/staff) or choose another sender`,
        );
    }
    // A mail step may go out as a letter, which must fit one page: refused now rather than when it is due.
    if (step.channel === 'mail' && step.template) {
      checkWording(at, step.template, content);
      try {
        await checkLetterTemplate(step.template);
      } catch (err) {
        if (err instanceof LetterTooLongError)
          throw new ValidationError(`${at}.template`, `as a letter: ${err.message}`);
        throw err;
      }
    }
  }
}

function checkContent(content: SegmentContent): void {
  for (const [key, value] of Object.entries(content ?? {})) {
    try {
      // A block is the business's own text, not a template: it may not hide Liquid a manager did not mean to run.
      if (/\{[{%]/.test(value ?? '')) throw new Error('must be plain text (no {{ or {%)');
    } catch (err) {
      throw new ValidationError(`content.${key}`, (err as Error).message);
    }
  }
}

/** checkSegment validates a segment's plan, window and rules, throwing a ValidationError naming the field. */
export async function checkSegment(s: repo.SegmentFields, db?: Database): Promise<void> {
  checkWindow(s.sendWindow);
  checkContent(s.content);
  await checkPlan(s.plan, s.content, db);
  const { minTotal, maxTotal } = s.match;
  if (minTotal != null && maxTotal != null && Number(minTotal) > Number(maxTotal))
    throw new ValidationError('match.maxTotal', 'must not be below match.minTotal');
}

async function withDefaults(db: Database, input: SegmentInput, base: Segment | null): Promise<repo.SegmentFields> {
  const fallback = base ?? (await repo.listSegments(db)).find((s) => s.isDefault)!;
  return {
    name: input.name,
    priority: input.priority ?? base?.priority ?? 100,
    match: input.match ?? base?.match ?? {},
    plan: input.plan ?? fallback.plan,
    sendWindow: input.sendWindow ?? fallback.sendWindow,
    laterYears: input.laterYears ?? fallback.laterYears,
    content: input.content ?? base?.content ?? {},
  };
}

async function saved<T>(work: Promise<T>, name: string): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (isUniqueViolation(err))
      throw new ConflictError(`name: a segment named "${name}" already exists`, { field: 'name' });
    throw err;
  }
}

/** createSegment validates and stores a new segment; an omitted plan or window copies the default segment's. */
export async function createSegment(ctx: ServiceContext, input: SegmentInput, actor: string): Promise<Segment> {
  const fields = await withDefaults(ctx.db, input, null);
  await checkSegment(fields, ctx.db);
  const segment = await saved(repo.insertSegment(ctx.db, fields), input.name);
  await audit(ctx.db, {
    actor,
    action: 'segment.created',
    entity: 'segment',
    entityId: segment.id,
    at: ctx.clock.now(),
  });
  return segment;
}

/** updateSegment validates and replaces a segment's fields; running plans keep their steps. */
export async function updateSegment(
  ctx: ServiceContext,
  id: string,
  input: SegmentInput,
  actor: string,
): Promise<Segment> {
  const current = await repo.findSegment(ctx.db, id);
  if (!current) throw new NotFoundError('segment', id);
  const fields = await withDefaults(ctx.db, input, current);
  await checkSegment(fields, ctx.db);
  const segment = await saved(repo.updateSegment(ctx.db, id, fields), input.name);
  if (!segment) throw new NotFoundError('segment', id);
  await audit(ctx.db, {
    actor,
    action: 'segment.updated',
    entity: 'segment',
    entityId: id,
    detail: { planChanged: JSON.stringify(current.plan) !== JSON.stringify(fields.plan) },
    at: ctx.clock.now(),
  });
  return segment;
}

/** listSegments returns every segment by priority. */
export function listSegments(ctx: ServiceContext): Promise<Segment[]> {
  return repo.listSegments(ctx.db);
}
