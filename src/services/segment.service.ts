/**
 * Segments: validating and saving match rules, plans and send windows. Saving a plan never touches plans already
 * running: each run keeps the snapshot of steps it started with.
 */
import type { Database } from '../db/database';
import * as repo from '../db/repositories/segment.repository';
import { audit } from '../db/repositories/access.repository';
import * as versions from '../db/repositories/plan-version.repository';
import { describePlanChanges } from '../domain/plan-version';
import { DEFAULT_SEND_WINDOW, parseClock } from '../domain/schedule';
import type { LaterYears, PlanStep, Segment, SegmentContent, SendWindow } from '../domain/types';
import { renderMessage, SAMPLE_CONTEXT, validateTemplate, type MessageContext } from '../channels/templates';
import { findFirstActiveByRole } from '../db/repositories/staff.repository';
import { LetterTooLongError } from '../channels/letter.channel';
import { checkLetterTemplate } from './letter.service';
import { ConflictError, NotFoundError, ValidationError } from './errors';
import { isUniqueViolation, type ServiceContext } from './context';
import { compileChecker } from './input-policy';
import { LaterYearsSchema, PlanStepSchema, SendWindowSchema, StoredSegmentSchema } from './segment-input';
import { chooseSegment, matchesRules, type SaleFacts } from '../domain/segment-match';

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

function checkSteps(plan: PlanStep[]): void {
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
  }
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
function checkWording(plan: PlanStep[], content: SegmentContent): void {
  const sample = {
    ...(SAMPLE_CONTEXT as MessageContext),
    content: { careTips: '', whatsNew: '', serviceOffer: '', ...content },
  };
  for (const [i, step] of plan.entries()) {
    if (step.channel !== 'mail' || !step.template) continue;
    for (const channel of ['letter', 'email'] as const) {
      const r = renderMessage(step.template, { ...sample, channel });
      const wrong = (channel === 'letter' ? LETTER_WORDING : EMAIL_WORDING).exec(`${r.subject}\n${r.body}`);
      if (wrong)
        throw new ValidationError(
          `plan.${i}.template`,
          `as ${channel === 'letter' ? 'a letter' : 'an email'} it says "${wrong[0]}", which does not fit; word it ` +
            'for both (or use {% if channel == "letter" %}...{% else %}...{% endif %})',
        );
    }
  }
}

/** checkSenders refuses a mail step signed by a role nobody active holds: it would go out signed by someone else. */
async function checkSenders(plan: PlanStep[], db: Database): Promise<void> {
  for (const [i, step] of plan.entries()) {
    if (step.channel !== 'mail' || !step.sender || step.sender === 'salesperson') continue;
    if (!(await findFirstActiveByRole(db, step.sender)))
      throw new ValidationError(
        `plan.${i}.sender`,
        `no active ${step.sender} on staff to sign this step: add one (POST /v1/staff) or choose another sender`,
      );
  }
}

function checkContent(content: SegmentContent | undefined): void {
  for (const [key, value] of Object.entries(content ?? {})) {
    // A block is the business's own text, not a template: it may not hide Liquid a manager did not mean to run.
    if (/\{[{%]/.test(value ?? '')) throw new ValidationError(`content.${key}`, 'must be plain text (no {{ or {%)');
  }
}

// A mail step may go out as a letter, which must fit one page: refused now rather than when it is due.
async function checkLetters(plan: PlanStep[]): Promise<void> {
  for (const [i, step] of plan.entries()) {
    if (step.channel !== 'mail' || !step.template) continue;
    try {
      await checkLetterTemplate(step.template);
    } catch (err) {
      if (err instanceof LetterTooLongError)
        throw new ValidationError(`plan.${i}.template`, `as a letter: ${err.message}`);
      throw err;
    }
  }
}

const checkStoredShape = compileChecker<repo.SegmentFields>(StoredSegmentSchema);

/**
 * checkSegmentNow validates a whole segment without rendering anything: its shape (the schema of the API, so a value
 * read back from the database is held to what the API accepts), its window, its plan's steps and its rules.
 */
function checkSegmentNow(s: repo.SegmentFields): void {
  checkStoredShape({
    name: s.name,
    priority: s.priority,
    match: s.match,
    plan: s.plan,
    sendWindow: s.sendWindow,
    laterYears: s.laterYears,
  });
  checkWindow(s.sendWindow);
  checkSteps(s.plan);
  checkContent(s.content);
  const { minTotal, maxTotal } = s.match;
  if (minTotal != null && maxTotal != null && Number(minTotal) > Number(maxTotal))
    throw new ValidationError('match.maxTotal', 'must not be below match.minTotal');
}

/** checkSegment validates a segment as a whole before it is saved, throwing a ValidationError naming the field. */
export async function checkSegment(s: repo.SegmentFields, db?: Database): Promise<void> {
  checkSegmentNow(s);
  checkWording(s.plan, s.content ?? {});
  if (db) await checkSenders(s.plan, db);
  await checkLetters(s.plan);
}

// Segments are read once per version and kept (sale.service), so each stored segment object is checked once.
const problems = new WeakMap<Segment, ValidationError | null>();

/** segmentProblem returns what is wrong with a stored segment (a ValidationError naming the field), or null. */
export function segmentProblem(segment: Segment): ValidationError | null {
  if (problems.has(segment)) return problems.get(segment)!;
  let problem: ValidationError | null = null;
  try {
    checkSegmentNow(segment);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    problem = err;
  }
  problems.set(segment, problem);
  return problem;
}

/** Placement is the segment a sale is placed in, and a warning when the segment it matched could not be used. */
export interface Placement {
  segment: Segment;
  warning?: string;
}

const BUILT_IN_LATER_YEARS: LaterYears = { humanContact: 'call' };
const checkStepShape = compileChecker<PlanStep>(PlanStepSchema);
const checkWindowShape = compileChecker<SendWindow>(SendWindowSchema);
const checkLaterYearsShape = compileChecker<LaterYears>(LaterYearsSchema);

function holds(check: () => void): boolean {
  try {
    check();
    return true;
  } catch (err) {
    if (err instanceof ValidationError) return false;
    throw err;
  }
}

/**
 * withBrokenPartsReplaced is a segment with each broken part replaced: its send window and later-years setting by
 * the built-in ones, its plan by those of its steps that hold on their own.
 */
function withBrokenPartsReplaced(segment: Segment): Segment {
  const seen = new Set<number>();
  const plan = (Array.isArray(segment.plan) ? segment.plan : []).filter((step) => {
    if (!holds(() => checkSteps([checkStepShape(step)])) || seen.has(step.step)) return false;
    seen.add(step.step);
    return true;
  });
  const windowHolds = holds(() => checkWindow(checkWindowShape(segment.sendWindow)));
  return {
    ...segment,
    plan,
    sendWindow: windowHolds ? segment.sendWindow : DEFAULT_SEND_WINDOW,
    laterYears: holds(() => checkLaterYearsShape(segment.laterYears)) ? segment.laterYears : BUILT_IN_LATER_YEARS,
  };
}

/**
 * usableSegment returns a stored segment as it can be used to plan: as stored when it holds, else with its broken
 * send window, later-years setting or plan steps replaced (withBrokenPartsReplaced). For customers already placed.
 */
export function usableSegment(segment: Segment): Segment {
  return segmentProblem(segment) ? withBrokenPartsReplaced(segment) : segment;
}

function matchesSafely(segment: Segment, sale: SaleFacts): boolean {
  try {
    return matchesRules(segment.match, sale);
  } catch {
    return false; // rules too broken to read
  }
}

/**
 * placeSale places a sale in its segment (chooseSegment) among the segments that are not misconfigured. A sale that
 * a misconfigured segment (stored before today's checks, or edited in the database) would have taken goes to the
 * default segment instead, with a warning; a misconfigured default segment is used with its broken parts replaced.
 */
export function placeSale(segments: Segment[], sale: SaleFacts): Placement {
  const usable = segments.filter((s) => s.isDefault || !segmentProblem(s));
  const chosen = chooseSegment(usable, sale);
  const ranksBefore = (s: Segment) =>
    chosen.isDefault || s.priority < chosen.priority || (s.priority === chosen.priority && s.name < chosen.name);
  const skipped = segments.find((s) => !s.isDefault && segmentProblem(s) && ranksBefore(s) && matchesSafely(s, sale));
  const target = skipped ? segments.find((s) => s.isDefault)! : chosen;
  const warnings = skipped
    ? [`segment "${skipped.name}" is misconfigured (${segmentProblem(skipped)!.message}) and was skipped`]
    : [];
  const defaultProblem = target.isDefault ? segmentProblem(target) : null;
  if (defaultProblem)
    warnings.push(
      `the default segment is misconfigured (${defaultProblem.message}); its built-in send window, later-years ` +
        'setting and the steps of its plan that hold were used',
    );
  const segment = defaultProblem ? withBrokenPartsReplaced(target) : target;
  if (warnings.length === 0) return { segment };
  return { segment, warning: `${warnings.join('; ')}: the sale was placed in the default segment` };
}

/**
 * reportMisconfiguredSegments checks every stored segment (at start-up) and logs each misconfigured one by name and
 * field; their sales go to the default segment until a manager fixes them. It returns what it found.
 */
export async function reportMisconfiguredSegments(ctx: ServiceContext): Promise<{ name: string; problem: string }[]> {
  const found: { name: string; problem: string }[] = [];
  for (const segment of await repo.listSegments(ctx.db)) {
    const problem = segmentProblem(segment);
    if (!problem) continue;
    found.push({ name: segment.name, problem: problem.message });
    ctx.log.error(
      { segment: segment.name, segmentId: segment.id, field: problem.field, problem: problem.message },
      segment.isDefault
        ? 'the default segment is misconfigured: its built-in send window and later-years setting stand in until it is fixed'
        : 'segment is misconfigured: skipped, its sales go to the default segment until it is fixed',
    );
  }
  return found;
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

/** createSegment validates and stores a new segment with its plan as version 1; an omitted plan or window copies the default segment's. */
export async function createSegment(ctx: ServiceContext, input: SegmentInput, actor: string): Promise<Segment> {
  const fields = await withDefaults(ctx.db, input, null);
  await checkSegment(fields, ctx.db);
  const now = ctx.clock.now();
  return saved(
    ctx.db.transaction().execute(async (trx) => {
      const segment = await repo.insertSegment(trx, fields);
      await versions.insertPlanVersion(trx, {
        segmentId: segment.id,
        version: 1,
        plan: fields.plan,
        sendWindow: fields.sendWindow,
        changes: ['first version'],
        createdBy: actor,
        createdAt: now,
      });
      await audit(trx, { actor, action: 'segment.created', entity: 'segment', entityId: segment.id, at: now });
      return segment;
    }),
    input.name,
  );
}

/**
 * updateSegment validates and replaces a segment's fields. A changed plan (steps or send window) becomes a new
 * version, numbered, with who saved it and what changed; running plans keep the version they were given.
 */
export async function updateSegment(
  ctx: ServiceContext,
  id: string,
  input: SegmentInput,
  actor: string,
): Promise<Segment> {
  const found = await repo.findSegment(ctx.db, id);
  if (!found) throw new NotFoundError('segment', id);
  const fields = await withDefaults(ctx.db, input, found);
  await checkSegment(fields, ctx.db);
  const now = ctx.clock.now();
  return saved(
    ctx.db.transaction().execute(async (trx) => {
      // Locked, so two managers saving at once get versions n+1 and n+2, each described against the one before.
      const current = await repo.findSegmentForUpdate(trx, id);
      if (!current) throw new NotFoundError('segment', id);
      const changes = describePlanChanges(current, fields);
      const version = changes.length > 0 ? (current.planVersion ?? 1) + 1 : undefined;
      const segment = await repo.updateSegment(trx, id, fields, version);
      if (!segment) throw new NotFoundError('segment', id);
      if (version)
        await versions.insertPlanVersion(trx, {
          segmentId: id,
          version,
          plan: fields.plan,
          sendWindow: fields.sendWindow,
          changes,
          createdBy: actor,
          createdAt: now,
        });
      await audit(trx, {
        actor,
        action: 'segment.updated',
        entity: 'segment',
        entityId: id,
        detail: { planChanged: changes.length > 0, ...(version ? { planVersion: version, changes } : {}) },
        at: now,
      });
      return segment;
    }),
    input.name,
  );
}

/** listPlanVersions returns a segment's plan versions, newest first, with how many running plans each has. */
export async function listPlanVersions(
  ctx: ServiceContext,
  segmentId: string,
): Promise<{ versions: (versions.PlanVersion & { running: number })[]; unversionedRunning: number }> {
  const segment = await repo.findSegment(ctx.db, segmentId);
  if (!segment) throw new NotFoundError('segment', segmentId);
  const [list, counts] = await Promise.all([
    versions.listPlanVersions(ctx.db, segmentId),
    versions.countRunsByVersion(ctx.db, segmentId),
  ]);
  const running = new Map(counts.map((c) => [c.version, c.runs]));
  return {
    versions: list.map((v) => ({ ...v, running: running.get(v.version) ?? 0 })),
    unversionedRunning: running.get(null) ?? 0,
  };
}

/** listSegments returns every segment by priority. */
export function listSegments(ctx: ServiceContext): Promise<Segment[]> {
  return repo.listSegments(ctx.db);
}
