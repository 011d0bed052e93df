/**
 * Contact details a customer corrected themselves, against the point-of-sale data that keeps arriving with every
 * sale. A till that never learnt of the correction sends the old value again: that must not undo the customer's
 * fix. A till that sends a value it never sent before knows something new, and it wins. Pure.
 *
 * The replaced values are kept only as keyed digests (HMAC with the service's secret): a plain hash of a phone
 * number could be reversed by trying them all. A new secret makes old digests match nothing, so the till's old value
 * would win again: a trade-off accepted for rotating it.
 */
import { createHmac } from 'node:crypto';
import { canonicalJson } from './canonical-json';

/** CORRECTABLE_FIELDS are the contact details both a sale and the customer can set. */
export const CORRECTABLE_FIELDS = ['firstName', 'lastName', 'email', 'phone', 'preferredChannel', 'address'] as const;

/** CorrectableField is one of CORRECTABLE_FIELDS. */
export type CorrectableField = (typeof CORRECTABLE_FIELDS)[number];

/** ContactCorrections maps each field the customer corrected to the fingerprint of the value it replaced. */
export type ContactCorrections = Partial<Record<CorrectableField, string>>;

/** fingerprint is a keyed one-way digest of a field's value (emails compared case-insensitively). */
export function fingerprint(key: string, field: CorrectableField, value: unknown): string {
  const normal = field === 'email' && typeof value === 'string' ? value.toLowerCase() : (value ?? null);
  return createHmac('sha256', key)
    .update(`${field}\u0000${canonicalJson(normal)}`)
    .digest('hex');
}

/**
 * noteCorrections adds the fields the customer just corrected, each with the fingerprint of the value it had before.
 * A field corrected again keeps its first fingerprint: the till still knows that value, not the customer's last one.
 */
export function noteCorrections(
  key: string,
  existing: ContactCorrections,
  before: Partial<Record<CorrectableField, unknown>>,
  fields: readonly string[],
): ContactCorrections {
  const next: ContactCorrections = { ...existing };
  for (const field of CORRECTABLE_FIELDS) {
    if (fields.includes(field) && next[field] === undefined) next[field] = fingerprint(key, field, before[field]);
  }
  return next;
}

/**
 * screenSaleContact drops from a sale's contact details the values the customer has since corrected (the till sent
 * the old value again), and ends the customer's precedence over a field for which the sale brings a new value.
 * `changed` says whether the corrections need storing again.
 */
export function screenSaleContact<T extends Partial<Record<CorrectableField, unknown>>>(
  key: string,
  incoming: T,
  corrections: ContactCorrections,
): { contact: T; corrections: ContactCorrections; changed: boolean } {
  const contact = { ...incoming };
  const remaining: ContactCorrections = { ...corrections };
  let changed = false;
  for (const field of CORRECTABLE_FIELDS) {
    const stale = remaining[field];
    if (stale === undefined || incoming[field] === undefined) continue;
    if (fingerprint(key, field, incoming[field]) === stale) {
      delete contact[field];
    } else {
      delete remaining[field];
      changed = true;
    }
  }
  return { contact, corrections: remaining, changed };
}
