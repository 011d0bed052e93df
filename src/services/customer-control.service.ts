/**
 * The customer's own controls, reached through their signed link: see the data held, correct contact details,
 * choose letter or email, opt out of email, newsletters or everything, download the data, and erase it. Each
 * change is one transaction that also cancels or re-routes what it affects at once, and is audited (actor
 * `customer`, never with the personal data itself in the detail).
 */
import { chooseMailChannel, contactPointsOf } from '../domain/channel';
import type { Address } from '../domain/types';
import type { Database } from '../db/database';
import { audit } from '../db/repositories/access.repository';
import * as control from '../db/repositories/customer-control.repository';
import * as importRepo from '../db/repositories/import.repository';
import { blankOut } from './import-format';
import { updateCustomer, type Customer } from '../db/repositories/customer.repository';
import { noteCorrections } from '../domain/contact-corrections';
import { normalizePhone } from '../domain/identity';
import * as lifecycle from '../db/repositories/touch-lifecycle.repository';
import type { LinkPurpose } from './customer-link';
import { resolveCustomerLink } from './customer-link.service';
import { deleteLinksOfCustomer } from '../db/repositories/customer-link.repository';
import { ConflictError, NotFoundError, ValidationError } from './errors';
import type { ServiceContext } from './context';
import { isEmailAddress } from './input-policy';

/** TouchView is a touch as the customer sees it: what, when and how it ended. */
export type TouchView = control.TouchView;

/** CUSTOMER_ACTOR names the customer in the audit trail and in touch histories. */
export const CUSTOMER_ACTOR = 'customer';

/** Effects counts what a change cancelled or re-routed. */
export interface Effects {
  cancelled: number;
  rerouted: number;
  tasksCancelled: number;
}

/** customerIdOfToken returns the customer a link for `purpose` names, or throws not_found (forged, expired, void). */
export async function customerIdOfToken(
  ctx: ServiceContext,
  token: string,
  purpose: LinkPurpose = 'preferences',
): Promise<string> {
  return (await resolveCustomerLink(ctx, token, purpose)).id;
}

async function lockedCustomer(trx: Database, id: string): Promise<Customer> {
  const customer = await control.lockCustomer(trx, id);
  if (!customer) throw new NotFoundError('customer link', 'given');
  return customer;
}

/** usable tells whether a touch may still go out on `channel` to this customer. */
function usable(c: Customer, channel: 'email' | 'letter'): boolean {
  return chooseMailChannel({ ...contactPointsOf(c), preferredChannel: channel }).channel === channel;
}

/**
 * applyEffects brings the customer's future contacts in line with their current preferences: "do not contact"
 * cancels every future touch and open call task; an email or newsletter opt-out cancels newsletters; every
 * letter-or-email touch not yet handed to a queue is re-routed to the channel chosen now (or cancelled when none
 * is left). A touch already queued keeps its channel while it stays usable (its job is already in that channel's
 * queue), and is cancelled otherwise.
 */
async function applyEffects(trx: Database, c: Customer, now: Date, cause: string): Promise<Effects> {
  const effects: Effects = { cancelled: 0, rerouted: 0, tasksCancelled: 0 };
  if (c.doNotContact) {
    effects.cancelled += await lifecycle.cancelOpenTouches(trx, { customerId: c.id }, now, cause, null);
    effects.tasksCancelled += await control.cancelOpenTasks(trx, c.id, ['call', 'escalation'], now, cause);
    return effects;
  }
  if (c.emailOptOut || c.newsletterOptOut) {
    effects.cancelled += await lifecycle.cancelOpenTouches(
      trx,
      { customerId: c.id, channels: ['newsletter'] },
      now,
      cause,
      null,
    );
  }
  const choice = chooseMailChannel(contactPointsOf(c)).channel;
  const toCancel: string[] = [];
  const toMove: string[] = [];
  for (const t of await control.listReroutableMailTouches(trx, c.id, now)) {
    const channel = t.channel as 'email' | 'letter';
    if (t.status === 'skipped') {
      if (choice) toMove.push(t.id);
    } else if (t.status === 'queued') {
      if (!usable(c, channel)) toCancel.push(t.id);
    } else if (!choice) {
      toCancel.push(t.id);
    } else if (channel !== choice) {
      toMove.push(t.id);
    }
  }
  effects.cancelled += await lifecycle.cancelOpenTouches(trx, { touchIds: toCancel }, now, cause, 'customer');
  if (choice)
    effects.rerouted += await lifecycle.rerouteTouches(trx, toMove, choice, now, `rerouted_${choice}:${cause}`);
  return effects;
}

/** PreferenceChange is the outcome of a change: the customer as now stored and what it cancelled or re-routed. */
export interface PreferenceChange {
  customer: Customer;
  effects: Effects;
  changed: boolean;
}

/**
 * unsubscribeFromEmail is the one-click unsubscribe (RFC 8058) and the page's "stop emails": no more emails or
 * newsletters. Future letter-or-email steps become letters where a postal address is known, else are cancelled.
 * Repeating it changes nothing.
 */
export async function unsubscribeFromEmail(
  ctx: ServiceContext,
  token: string,
  via: 'one_click' | 'preference_page',
): Promise<PreferenceChange> {
  const id = await customerIdOfToken(ctx, token, via === 'one_click' ? 'unsubscribe' : 'preferences');
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const before = await lockedCustomer(trx, id);
    if (before.erasedAt || (before.emailOptOut && before.newsletterOptOut)) {
      return { customer: before, effects: { cancelled: 0, rerouted: 0, tasksCancelled: 0 }, changed: false };
    }
    // Newsletters are emails, so leaving email leaves them too.
    const customer = await updateCustomer(trx, id, { emailOptOut: true, newsletterOptOut: true });
    const effects = await applyEffects(trx, customer, now, 'email_opt_out');
    await audit(trx, {
      actor: CUSTOMER_ACTOR,
      action: 'customer.opt_out.email',
      entity: 'customer',
      entityId: id,
      detail: { via, ...effects },
      at: now,
    });
    return { customer, effects, changed: true };
  });
}

/** Preferences are the page's switches: receive emails, receive newsletters, be contacted at all. */
export interface Preferences {
  email: boolean;
  newsletters: boolean;
  contact: boolean;
}

/**
 * savePreferences stores the page's switches and applies what they stop at once. Switching something back on
 * applies to contacts planned from now on; contacts already cancelled stay cancelled.
 */
export async function savePreferences(ctx: ServiceContext, token: string, p: Preferences): Promise<PreferenceChange> {
  const id = await customerIdOfToken(ctx, token);
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const before = await lockedCustomer(trx, id);
    if (before.erasedAt)
      throw new ConflictError('customer: the data held was erased; there are no preferences to change', {
        field: 'customer',
        reason: 'erased',
      });
    const next = { emailOptOut: !p.email, newsletterOptOut: !p.newsletters || !p.email, doNotContact: !p.contact };
    const flips: [keyof typeof next, string][] = [
      ['emailOptOut', 'email'],
      ['newsletterOptOut', 'newsletter'],
      ['doNotContact', 'all'],
    ];
    const changes = flips.filter(([flag]) => before[flag] !== next[flag]);
    if (changes.length === 0)
      return { customer: before, effects: { cancelled: 0, rerouted: 0, tasksCancelled: 0 }, changed: false };
    const customer = await updateCustomer(trx, id, next);
    const cause = next.doNotContact
      ? 'do_not_contact'
      : next.emailOptOut
        ? 'email_opt_out'
        : next.newsletterOptOut
          ? 'newsletter_opt_out'
          : 'preferences_changed';
    const effects = await applyEffects(trx, customer, now, cause);
    await audit(
      trx,
      ...changes.map(([flag, what]) => ({
        actor: CUSTOMER_ACTOR,
        action: `customer.${next[flag] ? 'opt_out' : 'opt_in'}.${what}`,
        entity: 'customer',
        entityId: id,
        detail: { via: 'preference_page', ...effects },
        at: now,
      })),
    );
    return { customer, effects, changed: true };
  });
}

/** ContactCorrection is the page's contact form; an empty field clears the value, an absent one keeps it. */
export interface ContactCorrection {
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  addressLines?: string;
  city?: string;
  region?: string;
  postalCode?: string;
  country?: string;
  preferredChannel?: string;
}

const PHONE_RE = /^\+?[0-9 ()./-]{5,30}$/;

function cleaned(value: string | undefined, field: string, max: number): string | null | undefined {
  if (value === undefined) return undefined;
  const v = value.replace(/\s+/g, ' ').trim();
  if (v.length > max) throw new ValidationError(field, `must be at most ${max} characters`);
  return v === '' ? null : v;
}

function addressOf(input: ContactCorrection, current: Address | null): Address | null | undefined {
  const parts = [input.addressLines, input.city, input.region, input.postalCode, input.country];
  if (parts.every((p) => p === undefined)) return undefined;
  const lines = (input.addressLines ?? current?.lines.join('\n') ?? '')
    .split(/\r?\n/)
    .map((l) => l.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
  if (lines.length > 5) throw new ValidationError('addressLines', 'must be at most 5 lines');
  if (lines.some((l) => l.length > 100))
    throw new ValidationError('addressLines', 'each line must be at most 100 characters');
  const city = cleaned(input.city, 'city', 100) ?? (input.city === undefined ? current?.city : undefined);
  const region = cleaned(input.region, 'region', 100) ?? (input.region === undefined ? current?.region : undefined);
  const postalCode =
    cleaned(input.postalCode, 'postalCode', 20) ?? (input.postalCode === undefined ? current?.postalCode : undefined);
  const country = (
    cleaned(input.country, 'country', 100) ?? (input.country === undefined ? current?.country : undefined)
  )?.toUpperCase();
  if (lines.length === 0) {
    if (city || postalCode) throw new ValidationError('addressLines', 'is required for a postal address');
    return null;
  }
  if (!country || !/^[A-Z]{2}$/.test(country))
    throw new ValidationError('country', 'must be a two-letter country code (ISO 3166-1), e.g. AU');
  return {
    lines,
    ...(city ? { city } : {}),
    ...(region ? { region } : {}),
    ...(postalCode ? { postalCode } : {}),
    country,
  };
}

/**
 * checkCorrection validates the contact form and returns the fields to store (only those given), the phone in E.164
 * when it parses in the customer's country (else `defaultCountry`), as a sale's is, with the text as typed for display.
 */
function checkCorrection(input: ContactCorrection, current: Customer, defaultCountry: string | null | undefined) {
  const email = cleaned(input.email, 'email', 254);
  if (email && !isEmailAddress(email)) throw new ValidationError('email', 'is not a valid email address');
  const phone = cleaned(input.phone, 'phone', 30);
  if (phone && !PHONE_RE.test(phone)) throw new ValidationError('phone', 'may hold only digits, spaces, + ( ) . / -');
  const preferred = cleaned(input.preferredChannel, 'preferredChannel', 10);
  if (preferred != null && preferred !== 'email' && preferred !== 'letter')
    throw new ValidationError('preferredChannel', 'must be email or letter');
  const address = addressOf(input, current.address);
  const read = phone ? normalizePhone(phone, (address ?? current.address)?.country ?? defaultCountry) : null;
  return {
    patch: {
      firstName: cleaned(input.firstName, 'firstName', 100),
      lastName: cleaned(input.lastName, 'lastName', 100),
      email,
      phone: read ? read.stored : phone,
      address,
      preferredChannel: preferred as 'email' | 'letter' | null | undefined,
    },
    phoneDisplay: read ? read.display : phone,
  };
}

/**
 * correctContactDetails stores corrected names, email, phone, postal address and the choice of letter or email;
 * a new email address is no longer marked bounced, a customer who can be reached again leaves the clean-up list,
 * and future letter-or-email steps are re-routed to the channel chosen now (bringing back those skipped for want
 * of an address).
 */
export async function correctContactDetails(
  ctx: ServiceContext,
  token: string,
  input: ContactCorrection,
): Promise<PreferenceChange> {
  const id = await customerIdOfToken(ctx, token);
  return applyContactCorrection(ctx, id, input, { actor: CUSTOMER_ACTOR, leaveCleanup: false });
}

/**
 * correctContactDetailsForCustomer is the same correction made by staff on the customer's behalf (the clean-up
 * page); the caller has checked that they may see the customer. The clean-up flag stays for the manager to resolve.
 */
export async function correctContactDetailsForCustomer(
  ctx: ServiceContext,
  customerId: string,
  input: ContactCorrection,
  actor: string,
): Promise<PreferenceChange> {
  return applyContactCorrection(ctx, customerId, input, { actor, leaveCleanup: true });
}

async function applyContactCorrection(
  ctx: ServiceContext,
  id: string,
  input: ContactCorrection,
  by: { actor: string; leaveCleanup: boolean },
): Promise<PreferenceChange> {
  const now = ctx.clock.now();
  return ctx.db.transaction().execute(async (trx) => {
    const before = await lockedCustomer(trx, id);
    if (before.erasedAt) throw new NotFoundError('customer link', 'given');
    const { patch, phoneDisplay } = checkCorrection(input, before, ctx.settings.defaultCountry);
    const fields = (Object.keys(patch) as (keyof typeof patch)[]).filter(
      (k) => patch[k] !== undefined && !same(patch[k], before[k] ?? null),
    );
    if (fields.length === 0)
      return { customer: before, effects: { cancelled: 0, rerouted: 0, tasksCancelled: 0 }, changed: false };
    const given = Object.fromEntries(fields.map((k) => [k, patch[k]]));
    const emailChanged = fields.includes('email');
    // Remembered, so that a till still sending the old details does not undo the customer's own correction.
    const contactCorrections = noteCorrections(ctx.settings.secret, before.contactCorrections, before, fields);
    let customer = await updateCustomer(trx, id, {
      ...given,
      ...(fields.includes('phone') ? { phoneDisplay } : {}),
      contactCorrections,
      ...(emailChanged ? { emailStatus: 'ok' as const } : {}),
    });
    const reachable = chooseMailChannel(contactPointsOf(customer)).channel !== null;
    if (customer.needsCleanup && reachable && !by.leaveCleanup)
      customer = await updateCustomer(trx, id, { needsCleanup: false });
    const effects = await applyEffects(trx, customer, now, 'contact_corrected');
    // The audit names the fields, never their values: the trail must not become a copy of the personal data.
    await audit(trx, {
      actor: by.actor,
      action: 'customer.contact_corrected',
      entity: 'customer',
      entityId: id,
      detail: { fields, ...effects },
      at: now,
    });
    return { customer, effects, changed: true };
  });
}

const ERASED = '[erased]';

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, canonical(x)]),
    );
  }
  return v;
}

/** same compares two JSON-like values regardless of key order (jsonb does not keep it). */
function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** personalNeedles are the strings that identify a customer, to be wiped wherever they were quoted. */
export function personalNeedles(c: Customer): string[] {
  const fullName = [c.firstName, c.lastName].filter(Boolean).join(' ');
  const digits = c.phone?.replace(/\D/g, '') ?? '';
  const values = [
    fullName,
    c.firstName,
    c.lastName,
    c.email,
    c.phone,
    digits.length >= 6 ? digits : null,
    c.externalId,
    ...(c.address?.lines ?? []),
  ];
  const unique = [
    ...new Set(values.filter((v): v is string => Boolean(v && v.trim().length >= 2)).map((v) => v.trim())),
  ];
  // Longest first, so a full name is replaced whole before its parts.
  return unique.sort((a, b) => b.length - a.length);
}

/** scrubValue replaces every quoted needle (whole words, any case) in the strings of a JSON value. */
export function scrubValue(value: unknown, needles: string[]): unknown {
  if (needles.length === 0) return value;
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${needles.map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}])`, 'giu');
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(pattern, ERASED);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value);
}

/** ErasureResult says what erasure did; the counts hold no personal data. */
export interface ErasureResult {
  erased: boolean;
  effects: Effects;
}

/**
 * eraseCustomerData wipes the customer's personal data: the customer row (names, contacts, address, external id,
 * referral code), the referral codes on sales, rendered messages and letter PDFs, note and task texts, and every
 * quote of their details in reasons, talking points, stored answers and the audit trail. Every future contact is
 * cancelled. The rows stay, so anonymous counts (sales, contacts made, referrals) are unchanged.
 */
export async function eraseCustomerData(ctx: ServiceContext, id: string): Promise<ErasureResult> {
  const now = ctx.clock.now();
  return ctx.db
    .transaction()
    .execute(async (trx) => {
      const customer = await lockedCustomer(trx, id);
      if (customer.erasedAt) return { erased: false, effects: { cancelled: 0, rerouted: 0, tasksCancelled: 0 } };
      const needles = personalNeedles(customer);
      const effects: Effects = {
        cancelled: await lifecycle.cancelOpenTouches(trx, { customerId: id }, now, 'erased', null),
        rerouted: 0,
        tasksCancelled: await control.cancelOpenTasks(trx, id, null, now, 'erased'),
      };
      await control.endAllActiveRuns(trx, id);
      await deleteLinksOfCustomer(trx, id);
      await control.wipeCustomerRow(trx, id, now);
      await control.wipeSaleReferralCodes(trx, id);
      await control.wipeRenderedContent(trx, id);
      await control.wipeNotes(trx, id);
      for (const f of await control.listFreeText(trx, id)) {
        const value = scrubValue(f.value, needles);
        if (!same(value, f.value)) await control.updateFreeText(trx, { ...f, value });
      }
      for (const entry of await control.listAuditOfCustomer(trx, id)) {
        const detail = scrubValue(entry.detail, needles);
        if (!same(detail, entry.detail)) await control.updateAuditDetail(trx, entry.id, detail);
      }
      for (const stored of await control.findIdempotentResponsesQuoting(trx, needles)) {
        const response = scrubValue(stored.response, needles);
        if (!same(response, stored.response)) await control.updateIdempotentResponse(trx, { ...stored, response });
      }
      await eraseFromImports(trx, needles);
      await audit(trx, {
        actor: CUSTOMER_ACTOR,
        action: 'customer.erased',
        entity: 'customer',
        entityId: id,
        detail: { ...effects },
        at: now,
      });
      return { erased: true, effects };
    })
    .then(async (result) => {
      // Outside the transaction: the queues and the outbox are not Postgres (a failure here is logged, not undone).
      if (result.erased && ctx.erasure) {
        const touchIds = (await control.listTouchViews(ctx.db, id)).map((t) => t.id);
        await ctx.erasure
          .forgetDeliveries(touchIds)
          .catch((err) => ctx.log.error({ err, customerId: id }, 'could not erase queued or outbox copies'));
      }
      return result;
    });
}

/**
 * eraseFromImports wipes the customer from what imports keep: quotes in rejected rows, and the bytes of uploads not
 * yet finished (a finished import's file is already deleted), overwritten in place so the file keeps its shape and a
 * resumed import cannot bring the customer back.
 */
async function eraseFromImports(db: Database, needles: string[]): Promise<void> {
  for (const r of await importRepo.findRejectionsQuoting(db, needles)) {
    const reason = scrubValue(r.reason, needles) as string;
    const externalId = r.externalId === null ? null : (scrubValue(r.externalId, needles) as string);
    await importRepo.updateRejection(db, { ...r, reason, externalId });
  }
  const variants = [...new Set(needles.flatMap((n) => [n, n.toLowerCase(), n.toUpperCase()]))];
  for (const run of consecutiveRuns(await importRepo.findChunksQuoting(db, variants))) {
    // A run of neighbouring chunks is searched as one buffer, so a value split across a boundary is found too.
    const joined = Buffer.concat(run.map((c) => c.data));
    if (blankOut(joined, needles) === 0) continue;
    let at = 0;
    for (const chunk of run) {
      const data = joined.subarray(at, at + chunk.data.length);
      at += chunk.data.length;
      if (!data.equals(chunk.data)) await importRepo.replaceChunk(db, { ...chunk, data: Buffer.from(data) });
    }
  }
}

/** consecutiveRuns groups chunks (ordered by import and seq) into runs of the same import with consecutive seqs. */
function consecutiveRuns(chunks: importRepo.StoredChunk[]): importRepo.StoredChunk[][] {
  const runs: importRepo.StoredChunk[][] = [];
  for (const c of chunks) {
    const last = runs.at(-1)?.at(-1);
    if (last && last.importId === c.importId && last.seq + 1 === c.seq) runs.at(-1)!.push(c);
    else runs.push([c]);
  }
  return runs;
}
