/**
 * Letters: composing a letter from a rendered template, filing it into its business day's print batch, and the
 * print room's side: listing batches, the merged PDF, the CSV of addresses, and marking a batch mailed.
 */
import { DateTime } from 'luxon';
import type { Address } from '../domain/types';
import * as repo from '../db/repositories/letter.repository';
import { fileTouchesIntoBatch } from '../db/repositories/touch-lifecycle.repository';
import {
  addressesCsv,
  checkLetterFits,
  mergeLetters,
  paperFor,
  renderLetter,
  type AddressRow,
  type LetterContent,
  type LetterRecipient,
  type Paper,
} from '../channels/letter.channel';
import {
  renderMessage,
  SAMPLE_CONTEXT,
  type MessageContext,
  type MessageTemplate,
  type RenderedMessage,
} from '../channels/templates';
import { oneLineAddress, type TouchContext } from './touch-context.service';
import type { BusinessIdentity } from './business-identity.service';
import type { Customer } from '../db/repositories/customer.repository';
import { createShortPreferenceLink } from './customer-link.service';
import { ConflictError, NotFoundError } from './errors';
import { isUniqueViolation, type ServiceContext } from './context';

/** PAPERS are the sheet sizes a letter may be printed on; a template must fit every one of them. */
export const PAPERS: readonly Paper[] = ['A4', 'Letter'];

/** businessDay is the calendar date (YYYY-MM-DD) of `now` in the business's zone: the day whose batch a letter joins. */
export function businessDay(now: Date, zone: string): string {
  return DateTime.fromJSDate(now, { zone }).toISODate()!;
}

/** letterDate formats the date line of a letter in the customer's zone, month-first for US addresses. */
export function letterDate(now: Date, zone: string, country: string | null | undefined): string {
  const format = country?.trim().toUpperCase() === 'US' ? 'MMMM d, yyyy' : 'd MMMM yyyy';
  return DateTime.fromJSDate(now, { zone }).setLocale('en').toFormat(format);
}

/** letterMessageContext is the message context of a letter: the same variables, but no unsubscribe link (that is for email). */
export function letterMessageContext(ctx: MessageContext): MessageContext {
  return { ...ctx, channel: 'letter', links: { ...ctx.links, unsubscribe: null } };
}

/** LetterVoice is what the business prints on every letter: its letterhead, return address and home country. */
export interface LetterVoice {
  homeCountry?: string;
  returnAddress?: string | null;
  letterhead?: string[];
  logo?: LetterContent['logo'];
}

/** letterVoice derives the letterhead lines, the return address line and the home country from the identity. */
export function letterVoice(identity: BusinessIdentity): LetterVoice {
  const address = oneLineAddress(identity.address);
  const contact = [identity.phone ? `Phone ${identity.phone}` : null, identity.website].filter(Boolean).join('  ·  ');
  return {
    homeCountry: identity.address?.country,
    returnAddress: address ? `${identity.name ?? ''}, ${address}` : null,
    letterhead: [address, contact].filter((l): l is string => !!l),
    logo: identity.logo,
  };
}

/** displayLink writes a URL as a person types it from paper: no scheme, no trailing slash. */
export function displayLink(url: string): string {
  return url.replace(/^https?:\/\//i, '').replace(/\/$/, '');
}

/** letterFooter is a letter's small print: the short preference link (with its QR code) and the referral code. */
export function letterFooter(shortLink: string, referralCode: string | null): string {
  return [
    `See or correct what we hold about you, and choose how we keep in touch: ${displayLink(shortLink)} (or scan the code).`,
    referralCode ? `Your referral code, for a friend who could use our help: ${referralCode}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

/** composeLetter lays out what is printed on one letter from a rendered template and the recipient. */
export function composeLetter(m: {
  rendered: RenderedMessage;
  message: MessageContext;
  recipientName: string;
  address: Address;
  date: string;
  voice?: LetterVoice;
  /** The preference page's short link, printed and encoded as a QR code. */
  shortLink?: string;
}): LetterContent {
  const recipient: LetterRecipient = {
    name: m.recipientName,
    lines: m.address.lines,
    city: m.address.city ?? null,
    region: m.address.region ?? null,
    postalCode: m.address.postalCode ?? null,
    country: m.address.country,
  };
  const [closing, name, ...lines] = m.rendered.signature;
  return {
    businessName: m.message.business.name,
    ...(m.voice?.letterhead?.length ? { letterhead: m.voice.letterhead } : {}),
    ...(m.voice?.logo ? { logo: m.voice.logo } : {}),
    ...(m.voice?.returnAddress ? { returnAddress: m.voice.returnAddress } : {}),
    ...(m.voice?.homeCountry ? { homeCountry: m.voice.homeCountry } : {}),
    date: m.date,
    recipient,
    subject: m.rendered.subject,
    body: m.rendered.body,
    sender: { name: m.message.sender.name, title: m.message.sender.title ?? null },
    signature: { closing, name, lines },
    footer: m.shortLink ? letterFooter(m.shortLink, m.message.customer.referralCode) : m.rendered.footer,
    ...(m.shortLink ? { qr: m.shortLink } : {}),
  };
}

// A long but real address: four envelope lines, so a template that passes here leaves room for most addresses.
const SAMPLE_ADDRESS: Address = {
  lines: ['Unit 12, Level 3', '145 Example Parade'],
  city: 'North Sydney',
  region: 'NSW',
  postalCode: '2060',
  country: 'AU',
};

/** SAMPLE_SHORT_LINK stands for a real short link of the same length in checks and samples. */
const SAMPLE_SHORT_LINK = 'https://example-furniture.example/l/ABCDEFGHJK';

/** sampleLetter is a template rendered as a letter for the sample customer, as a manager's check sees it. */
export function sampleLetter(template: MessageTemplate, message = SAMPLE_CONTEXT as MessageContext): LetterContent {
  const letter = letterMessageContext(message);
  return composeLetter({
    rendered: renderMessage(template, letter),
    message: letter,
    recipientName: 'Ann Lee',
    address: SAMPLE_ADDRESS,
    date: '30 September 2026',
    voice: {
      homeCountry: 'NZ',
      returnAddress: 'Example Furniture, Unit 4, 1200 Long Example Highway, Example Heights NSW 2999',
      letterhead: [
        'Unit 4, 1200 Long Example Highway, Example Heights NSW 2999',
        'Phone +61 2 5550 1000  ·  example-furniture.example',
      ],
    },
    shortLink: SAMPLE_SHORT_LINK,
  });
}

/**
 * checkLetterTemplate renders a template for the sample customer and throws LetterTooLongError when the letter
 * would not fit one page of every paper size (or a TemplateError when it does not render). Every size, because the
 * paper depends on where each letter goes. The sample is international, with every block of the segment filled in.
 */
export async function checkLetterTemplate(template: MessageTemplate, message?: MessageContext): Promise<void> {
  const letter = sampleLetter(template, message);
  for (const paper of PAPERS) await checkLetterFits(letter, paper);
}

/** RenderedLetter is a letter drawn for one touch: its PDF and what is kept as the touch's content. */
export interface RenderedLetter {
  pdf: Uint8Array;
  content: LetterContent & { paper: Paper };
}

/** ShortLinkMaker gives the short link printed on a letter (a preview passes one that stores nothing). */
export type ShortLinkMaker = (customer: Customer) => Promise<string>;

/**
 * renderTouchLetter renders a letter touch for its customer (who must have a postal address) on the paper of its
 * destination (or `paperOverride`); throws LetterTooLongError when it does not fit, or TemplateError when the step's
 * template does not render.
 */
export async function renderTouchLetter(
  ctx: ServiceContext,
  tc: TouchContext,
  paperOverride: Paper | null,
  shortLink: ShortLinkMaker = (c) => createShortPreferenceLink(ctx, c),
): Promise<RenderedLetter> {
  if (!tc.customer.address) throw new RangeError('renderTouchLetter needs a postal address');
  if (!tc.step?.template) throw new RangeError(`touch ${tc.touch.id}: its step has no template`);
  const message = letterMessageContext(tc.message);
  const { firstName, lastName } = tc.customer;
  const paper = paperFor(tc.customer.address.country, paperOverride);
  const letter = composeLetter({
    rendered: renderMessage(tc.step.template, message),
    message,
    recipientName: [firstName, lastName].filter(Boolean).join(' '),
    address: tc.customer.address,
    date: letterDate(ctx.clock.now(), tc.zone, tc.customer.address.country),
    voice: letterVoice(tc.identity),
    shortLink: await shortLink(tc.customer),
  });
  // The logo is printed but not kept with the touch's content (it is the business's, not the customer's).
  const { logo: _logo, ...kept } = letter;
  return { pdf: await renderLetter(letter, paper), content: { ...kept, paper } };
}

/** batchLabel names a batch for people and for a touch's history: its business day and number. */
export function batchLabel(b: { businessDate: string; seq: number }): string {
  return `print batch ${b.businessDate} #${b.seq}`;
}

/** filedIn returns the batch a letter touch already sits in, or null. */
export function filedIn(ctx: ServiceContext, touchId: string): Promise<FiledLetter | null> {
  return repo.findLetterBatchOfTouch(ctx.db, touchId);
}

const FILE_ATTEMPTS = 5;

/** FiledLetter is the print batch a letter went into. */
export interface FiledLetter {
  id: string;
  businessDate: string;
  seq: number;
}

/**
 * fileLetters puts rendered, queued letter touches into the open print batch of today's business day (in the
 * business's default zone), opening one when none is: the first of the day, or the next after one was downloaded or mailed.
 * Answers aligned with `touchIds`: the batch, or null for a touch no longer queued. One transaction for all of them;
 * safe when many workers file letters at once.
 */
export async function fileLetters(
  ctx: ServiceContext,
  letters: { touchId: string; paper: Paper }[],
): Promise<(FiledLetter | null)[]> {
  const answers: (FiledLetter | null)[] = letters.map(() => null);
  for (const paper of PAPERS) {
    const ids = letters.flatMap((l) => (l.paper === paper ? [l.touchId] : []));
    if (ids.length === 0) continue;
    const filed = await fileOnPaper(ctx, ids, paper);
    letters.forEach((l, i) => {
      if (l.paper === paper) answers[i] = filed.get(l.touchId) ?? null;
    });
  }
  return answers;
}

async function fileOnPaper(ctx: ServiceContext, touchIds: string[], paper: Paper): Promise<Map<string, FiledLetter>> {
  const now = ctx.clock.now();
  const businessDate = businessDay(now, ctx.settings.defaultTimezone);
  for (let attempt = 1; ; attempt++) {
    try {
      return await ctx.db.transaction().execute(async (trx) => {
        const batch =
          (await repo.lockOpenBatch(trx, businessDate, paper)) ??
          (await repo.insertOpenBatch(trx, businessDate, paper, now));
        const label = batchLabel({ businessDate, seq: batch.seq });
        const filed = await fileTouchesIntoBatch(trx, touchIds, batch.id, now, `in ${label}`);
        return new Map([...filed].map((id) => [id, { id: batch.id, businessDate, seq: batch.seq }]));
      });
    } catch (err) {
      // Another worker opened the day's batch first: the next attempt finds and joins it.
      if (!isUniqueViolation(err) || attempt >= FILE_ATTEMPTS) throw err;
      ctx.log.debug(
        { count: touchIds.length, businessDate, attempt },
        'another worker opened the print batch first; joining it',
      );
    }
  }
}

/** listBatches returns print batches, newest day first. */
export function listBatches(
  ctx: ServiceContext,
  f: { status?: repo.BatchStatus; date?: string; limit?: number } = {},
): Promise<repo.LetterBatch[]> {
  return repo.listLetterBatches(ctx.db, { status: f.status, businessDate: f.date, limit: f.limit ?? 100 });
}

/** getBatch returns one batch, or throws NotFoundError. */
export async function getBatch(ctx: ServiceContext, id: string): Promise<repo.LetterBatch> {
  const batch = await repo.findLetterBatch(ctx.db, id);
  if (!batch) throw new NotFoundError('letter batch', id);
  return batch;
}

/** BatchLetterSummary is one letter as the print room sees it. */
export interface BatchLetterSummary {
  touchId: string;
  customerId: string;
  customerName: string;
  step: number;
  status: string;
  subject: string | null;
}

function storedContent(content: unknown): Partial<LetterContent> | null {
  return content && typeof content === 'object' ? (content as Partial<LetterContent>) : null;
}

/** getBatchLetters returns a batch and its letters in print order. */
export async function getBatchLetters(
  ctx: ServiceContext,
  id: string,
): Promise<{ batch: repo.LetterBatch; letters: BatchLetterSummary[] }> {
  const batch = await getBatch(ctx, id);
  const rows = await repo.listBatchLetters(ctx.db, id);
  const letters = rows.map((r) => ({
    touchId: r.touchId,
    customerId: r.customerId,
    customerName:
      [r.firstName, r.lastName].filter(Boolean).join(' ') || storedContent(r.content)?.recipient?.name || '',
    step: r.step,
    status: r.status,
    subject: storedContent(r.content)?.subject ?? null,
  }));
  return { batch, letters };
}

/**
 * closeForPrinting returns a batch about to be downloaded for printing, first closing it if it is open and holds
 * letters: letters due later then go into the day's next batch, not into one already at the printer.
 */
async function closeForPrinting(ctx: ServiceContext, id: string): Promise<repo.LetterBatch> {
  // An unknown batch is left alone by the close and answered 404 by getBatch.
  await ctx.db.transaction().execute((trx) => repo.closeBatchForPrinting(trx, id, ctx.clock.now()));
  return getBatch(ctx, id);
}

/** batchPdf merges a batch's letters into one PDF for printing, one page per letter in print order; closes the batch. */
export async function batchPdf(ctx: ServiceContext, id: string): Promise<{ batch: repo.LetterBatch; pdf: Uint8Array }> {
  const batch = await closeForPrinting(ctx, id);
  // Read after closing, so letters filed while it closed are printed too.
  const pdfs = await repo.listBatchPdfs(ctx.db, id);
  if (pdfs.length === 0) throw new ConflictError(`letter batch ${id} has no letters to print`, { id });
  return { batch, pdf: await mergeLetters(pdfs.map((p) => p.pdf)) };
}

/** batchAddressesCsv returns the addresses the batch's letters were printed with, as CSV in print order; closes the batch. */
export async function batchAddressesCsv(
  ctx: ServiceContext,
  id: string,
): Promise<{ batch: repo.LetterBatch; csv: string }> {
  const batch = await closeForPrinting(ctx, id);
  const rows: AddressRow[] = [];
  for (const letter of await repo.listBatchLetters(ctx.db, id)) {
    // The address printed on the letter, not today's: the CSV must match the envelopes.
    const r = storedContent(letter.content)?.recipient;
    if (!r) continue;
    rows.push({
      touchId: letter.touchId,
      name: r.name,
      lines: r.lines,
      city: r.city,
      region: r.region,
      postalCode: r.postalCode,
      country: r.country,
    });
  }
  return { batch, csv: addressesCsv(rows) };
}

/**
 * markMailed closes a batch and marks its letters sent, each with an event naming who marked it. Marking a batch
 * that is already mailed changes nothing and returns it as it is.
 */
export async function markMailed(ctx: ServiceContext, id: string, actor: string): Promise<repo.LetterBatch> {
  const batch = await getBatch(ctx, id);
  if (batch.status === 'mailed') return batch;
  const sent = await ctx.db
    .transaction()
    .execute((trx) => repo.markBatchMailed(trx, id, ctx.clock.now(), actor, `mailed with ${batchLabel(batch)}`));
  if (sent) ctx.log.info({ batchId: id, letters: sent.length }, 'letter batch mailed');
  return getBatch(ctx, id);
}
