/**
 * Previews of a segment's step, rendered by the very functions a send uses (buildEmail, renderTouchLetter), for a
 * real customer or a sample one, with the signer the send would choose and the business's identity: what a manager
 * sees is what the customer gets. Only the short link code is a stand-in (a preview stores nothing).
 */
import { randomUUID } from 'node:crypto';
import type { Customer } from '../db/repositories/customer.repository';
import { findCustomer } from '../db/repositories/customer.repository';
import { listSalesOfCustomer, type SaleRecord } from '../db/repositories/sale.repository';
import { findSegment } from '../db/repositories/segment.repository';
import type { LeasedTouch } from '../db/repositories/touch-lifecycle.repository';
import type { Address, PlanStep, Segment, StaffRole } from '../domain/types';
import { getBusinessIdentity } from './business-identity.service';
import { buildEmail } from './email-message.service';
import { LetterTooLongError } from '../channels/letter.channel';
import { renderTouchLetter } from './letter.service';
import { buildMessageContext, chooseSender, type TouchContext } from './touch-context.service';
import { NotFoundError, ValidationError } from './errors';
import type { ServiceContext } from './context';

/** BLOCKS are the segment content blocks a template may use. */
const BLOCKS = ['careTips', 'whatsNew', 'serviceOffer'] as const;

/**
 * stepsOnDefaultWording lists the mail steps of a segment that use a content block the segment has left empty:
 * they go out on their default wording, which reads well but says nothing the business wrote.
 */
export function stepsOnDefaultWording(segment: Pick<Segment, 'plan' | 'content'>): number[] {
  return segment.plan
    .filter((step) => step.channel === 'mail' && step.template)
    .filter((step) =>
      BLOCKS.some(
        (b) =>
          new RegExp(`content\\.${b}\\b`).test(`${step.template!.subject}\n${step.template!.body}`) &&
          !(segment.content?.[b] ?? '').trim(),
      ),
    )
    .map((step) => step.step);
}

const SAMPLE_ADDRESSES: Record<string, Address> = {
  AU: { lines: ['1 Main St'], city: 'Sydney', region: 'NSW', postalCode: '2000', country: 'AU' },
  US: { lines: ['350 Fifth Avenue'], city: 'New York', region: 'NY', postalCode: '10118', country: 'US' },
  GB: { lines: ['10 High Street'], city: 'London', postalCode: 'SW1A 1AA', country: 'GB' },
};

function sampleCustomer(country: string, now: Date): Customer {
  return {
    id: randomUUID(),
    source: 'preview',
    externalId: null,
    firstName: 'Ann',
    lastName: 'Lee',
    email: 'ann.lee@example.com',
    emailStatus: 'ok',
    phone: null,
    phoneDisplay: null,
    timezone: null,
    preferredChannel: null,
    address: SAMPLE_ADDRESSES[country] ?? { ...SAMPLE_ADDRESSES.AU, country },
    emailOptOut: false,
    newsletterOptOut: false,
    doNotContact: false,
    needsCleanup: false,
    paused: false,
    referralCode: 'ANN-7Q2K',
    referredBy: null,
    segmentId: null,
    program: 'first_year',
    erasedAt: null,
    createdAt: now,
    contactCorrections: {},
    linkVersion: 1,
  };
}

function sampleSale(segment: Segment, now: Date): SaleRecord {
  return {
    id: randomUUID(),
    source: 'preview',
    externalId: 'PREVIEW',
    soldAt: now,
    total: { amount: '1299.00', currency: 'AUD' },
    salespersonId: null,
    segmentId: segment.id,
    referralCode: null,
    items: [{ sku: 'SOFA-3', name: '3-seat sofa', category: 'furniture', quantity: 1, unitPrice: '1299.00' }],
  };
}

/** StepPreview is an email as it would be sent, or a letter's PDF. */
export type StepPreview =
  | {
      channel: 'email';
      from: string;
      replyTo: string | null;
      to: string;
      subject: string;
      text: string;
      html: string;
    }
  | { channel: 'letter'; pdf: Uint8Array; paper: string };

/** PreviewRequest names the step, the channel and the customer (or a sample from `country`) of a preview. */
export interface PreviewRequest {
  segmentId: string;
  step: number;
  channel: 'email' | 'letter';
  customerId?: string;
  country?: string;
  /** Unsaved steps and content blocks to preview instead of the stored ones (the editor's form). */
  draft?: Pick<Segment, 'plan' | 'content'>;
}

/**
 * previewTouchContext assembles what a send of step `step` as `channel` would have for the customer (or a sample):
 * the customer, their latest sale, the signer the send would choose and the template variables. Stores nothing.
 */
export async function previewTouchContext(ctx: ServiceContext, p: PreviewRequest): Promise<TouchContext> {
  const stored = await findSegment(ctx.db, p.segmentId);
  if (!stored) throw new NotFoundError('segment', p.segmentId);
  const segment: Segment = p.draft ? { ...stored, plan: p.draft.plan, content: p.draft.content } : stored;
  const step: PlanStep | undefined = segment.plan.find((s) => s.step === p.step);
  if (!step) throw new ValidationError('step', `segment has no step ${p.step}`);
  if (step.channel !== 'mail' || !step.template)
    throw new ValidationError('step', `step ${p.step} is not a letter or email`);
  const now = ctx.clock.now();
  let customer: Customer;
  let sale: SaleRecord | null;
  if (p.customerId) {
    const found = await findCustomer(ctx.db, p.customerId);
    if (!found || found.erasedAt) throw new NotFoundError('customer', p.customerId);
    customer = found;
    sale = (await listSalesOfCustomer(ctx.db, found.id)).at(-1) ?? null;
  } else {
    customer = sampleCustomer((p.country ?? 'AU').toUpperCase(), now);
    sale = sampleSale(segment, now);
  }
  if (p.channel === 'letter' && !customer.address)
    throw new ValidationError('channel', 'the customer has no postal address for a letter');
  if (p.channel === 'email' && !customer.email)
    throw new ValidationError('channel', 'the customer has no email address');
  const role = (step.sender ?? 'salesperson') as StaffRole;
  const sender = await chooseSender(ctx.db, role, sale?.salespersonId ?? null, sale?.salespersonId ?? null);
  const identity = await getBusinessIdentity(ctx);
  const zone = customer.timezone ?? ctx.settings.defaultTimezone;
  const touch: LeasedTouch = {
    id: randomUUID(),
    planRunId: null,
    customerId: customer.id,
    step: step.step,
    channel: p.channel,
    senderRole: role,
    assigneeId: null,
    dueAt: now,
    attempts: 0,
    letterBatchId: null,
    leaseUntil: now,
  };
  return {
    touch,
    customer,
    step,
    segment,
    sale,
    sender,
    zone,
    identity,
    message: buildMessageContext(ctx, { identity, customer, sale, sender, zone, segment, channel: p.channel }),
  };
}

/** previewStep renders step `step` of a segment as `channel` for a customer (or a sample from `country`). */
export async function previewStep(ctx: ServiceContext, p: PreviewRequest): Promise<StepPreview> {
  const tc = await previewTouchContext(ctx, p);
  const { customer, identity } = tc;
  if (p.channel === 'email') {
    const { email } = buildEmail(tc, customer.email!, ctx.settings.publicUrl);
    return {
      channel: 'email',
      from: email.from ?? identity.emailFrom,
      replyTo: email.replyTo ?? null,
      to: email.to,
      subject: email.subject,
      text: email.text,
      html: email.html,
    };
  }
  try {
    const letter = await renderTouchLetter(
      ctx,
      tc,
      ctx.settings.letterPaper ?? null,
      async () => `${ctx.settings.publicUrl}/l/PREVIEW234`,
    );
    return { channel: 'letter', pdf: letter.pdf, paper: letter.content.paper };
  } catch (err) {
    // For this customer (a long name or address) the letter may not fit where the sample did: say so, as a 400.
    if (err instanceof LetterTooLongError) throw new ValidationError('letter', `does not fit its page: ${err.message}`);
    throw err;
  }
}
