/**
 * Who a sale's customer is: the identity rules of SPEC.md as pure functions, shared by every way a sale arrives
 * (POST /v1/sales one by one or batched, and imports).
 * - `(source, externalId)` is authoritative: a match by email or phone never takes a customer who already carries a
 *   different externalId from the same source.
 * - Emails are compared trimmed and case-folded; the same person through two sources is one customer by email.
 * - Phones are stored and compared in E.164, parsed in the customer's country (else the default country); the text
 *   as given is kept for display; a phone that does not parse is kept as given and never used for matching.
 * - A match by phone alone is weak: it never changes the customer's email or name (a possible duplicate instead).
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/** PhoneNumber is a phone as stored: E.164 when it parses (then `key` is set and used for matching), else as given. */
export interface PhoneNumber {
  stored: string;
  display: string;
  key: string | null;
}

/** normalizePhone reads a phone in `country` (ISO alpha-2, else only international numbers parse). */
export function normalizePhone(text: string, country: string | null | undefined): PhoneNumber {
  const display = text.trim();
  let parsed;
  try {
    parsed = parsePhoneNumberFromString(display, (country ?? undefined) as CountryCode | undefined);
  } catch {
    parsed = undefined;
  }
  if (parsed && parsed.isValid()) return { stored: parsed.number, display, key: parsed.number };
  return { stored: display, display, key: null };
}

/** phoneKeyOf is the matching key of a stored phone: itself when it is E.164, else none. */
export function phoneKeyOf(stored: string | null | undefined): string | null {
  return stored && /^\+[1-9][0-9]{6,14}$/.test(stored) ? stored : null;
}

/** normalizeEmail is an email as stored: trimmed (the case is kept for display). */
export function normalizeEmail(email: string): string {
  return email.trim();
}

/** emailKey is an email as compared: trimmed and case-folded. */
export function emailKey(email: string | null | undefined): string | null {
  const key = email?.trim().toLowerCase();
  return key ? key : null;
}

/** SaleIdentity is what a sale says identifies its customer, already normalised (saleIdentityOf). */
export interface SaleIdentity {
  source: string;
  externalId: string | null;
  emailKey: string | null;
  phoneKey: string | null;
  /** Keyed digests of the email and phone, by which a customer who corrected them away is still found. */
  correctedEmail?: string | null;
  correctedPhone?: string | null;
}

/** MatchCandidate is what matching needs of a stored (or just created) customer. */
export interface MatchCandidate {
  source: string;
  externalId: string | null;
  email: string | null;
  phone: string | null;
  contactCorrections: { email?: string; phone?: string };
}

/** MatchStrength is how a customer was matched: `phone` alone is weak. */
export type MatchStrength = 'external_id' | 'email' | 'phone' | 'correction';

/** CustomerMatch is the customer a sale belongs to and how it was found. */
export interface CustomerMatch<C> {
  customer: C;
  by: MatchStrength;
}

/**
 * matchCustomer picks the sale's customer among `candidates` (oldest first): by (source, externalId), else email,
 * else phone, else the digest of a corrected email or phone; never a customer of the same source who carries another
 * externalId than the sale's.
 */
export function matchCustomer<C extends MatchCandidate>(
  candidates: readonly C[],
  sale: SaleIdentity,
): CustomerMatch<C> | null {
  const eligible = candidates.filter(
    (c) => !(sale.externalId && c.source === sale.source && c.externalId != null && c.externalId !== sale.externalId),
  );
  const first = (test: (c: C) => boolean) => eligible.find(test);
  if (sale.externalId) {
    const byKey = first((c) => c.source === sale.source && c.externalId === sale.externalId);
    if (byKey) return { customer: byKey, by: 'external_id' };
  }
  if (sale.emailKey) {
    const byEmail = first((c) => emailKey(c.email) === sale.emailKey);
    if (byEmail) return { customer: byEmail, by: 'email' };
  }
  if (sale.phoneKey) {
    const byPhone = first((c) => phoneKeyOf(c.phone) === sale.phoneKey);
    if (byPhone) return { customer: byPhone, by: 'phone' };
  }
  const corrected = first(
    (c) =>
      (sale.correctedEmail != null && c.contactCorrections.email === sale.correctedEmail) ||
      (sale.correctedPhone != null && c.contactCorrections.phone === sale.correctedPhone),
  );
  return corrected ? { customer: corrected, by: 'correction' } : null;
}

/** sameName compares names as people write them: trimmed, case-folded; an absent name matches nothing. */
function sameText(a: string | null | undefined, b: string | null | undefined): boolean {
  return (a ?? '').trim().toLowerCase() === (b ?? '').trim().toLowerCase();
}

/** IdentityFields are the fields a weak match may not change: they say who the person is. */
export interface IdentityFields {
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
}

/**
 * weakMatchConflict returns what a phone-only match's sale says differently about the person (email or names), or
 * null when it agrees with the customer: a conflict is recorded as a possible duplicate and never applied.
 */
export function weakMatchConflict(customer: IdentityFields, sale: IdentityFields): IdentityFields | null {
  const given: IdentityFields = {};
  if (sale.email && emailKey(sale.email) !== emailKey(customer.email)) given.email = sale.email;
  if (sale.firstName && !sameText(sale.firstName, customer.firstName)) given.firstName = sale.firstName;
  if (sale.lastName && !sameText(sale.lastName, customer.lastName)) given.lastName = sale.lastName;
  return Object.keys(given).length > 0 ? given : null;
}
