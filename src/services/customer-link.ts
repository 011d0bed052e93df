/**
 * Customer links: the tokens in /p/:token (the preference page) and /u/:token (one-click unsubscribe). Each token
 * names a customer, a purpose, the customer's link version and, for a preference link, an expiry; it carries an HMAC
 * under a subkey derived (HKDF) from RAPPORT_SECRET for that purpose, and the id of the secret that signed it, so the
 * secret can be rotated while links signed with the previous one (RAPPORT_SECRET_PREVIOUS) still work. A token is
 * checked here without I/O; the service then checks the version against the customer (an erasure or a new email
 * address bumps it, voiding every link given out before).
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** LinkPurpose is what a signed customer link may do: show the preference page, or unsubscribe from email. */
export type LinkPurpose = 'preferences' | 'unsubscribe';

/** PREFERENCE_LINK_DAYS is how long a preference link works; every message carries a fresh one. */
export const PREFERENCE_LINK_DAYS = 180;

/** LinkKeys are the secrets links are signed with: the current one, and earlier ones still accepted. */
export interface LinkKeys {
  secret: string;
  previousSecrets?: string[];
}

/** LinkClaims are what a token states. */
export interface LinkClaims {
  customerId: string;
  purpose: LinkPurpose;
  /** The customer's link version when the link was made. */
  version: number;
  /** When the link stops working; null never (unsubscribe links, which must keep working from an old email). */
  expiresAt: Date | null;
}

const FORMAT = 'r1';
const PURPOSE_CODES: Record<LinkPurpose, string> = { preferences: 'p', unsubscribe: 'u' };
const PURPOSES_BY_CODE: Record<string, LinkPurpose> = { p: 'preferences', u: 'unsubscribe' };

interface DerivedKeys {
  kid: string;
  keys: Record<LinkPurpose, Buffer>;
}

// Deriving costs a little; a process signs with one or two secrets, so each is derived once.
const derived = new Map<string, DerivedKeys>();

function derive(secret: string): DerivedKeys {
  let d = derived.get(secret);
  if (!d) {
    const hkdf = (info: string, length: number) =>
      Buffer.from(hkdfSync('sha256', secret, 'rapport customer links', info, length));
    d = {
      kid: hkdf('key id', 4).toString('hex'),
      keys: { preferences: hkdf('purpose:preferences', 32), unsubscribe: hkdf('purpose:unsubscribe', 32) },
    };
    derived.set(secret, d);
  }
  return d;
}

function mac(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url').slice(0, 22);
}

/** signCustomerLink returns a token stating `claims`, signed with the current secret. */
export function signCustomerLink(keys: LinkKeys, claims: LinkClaims): string {
  const d = derive(keys.secret);
  const exp = claims.expiresAt ? Math.floor(claims.expiresAt.getTime() / 1000).toString(36) : '0';
  const payload = [FORMAT, d.kid, PURPOSE_CODES[claims.purpose], claims.customerId, claims.version, exp].join('.');
  return `${payload}.${mac(d.keys[claims.purpose], payload)}`;
}

/**
 * verifyCustomerLink returns the claims of a token made for `purpose` that is genuine (signed with the current or a
 * previous secret) and not expired at `now`; null for anything else (forged, altered, another purpose, expired).
 */
export function verifyCustomerLink(keys: LinkKeys, token: string, purpose: LinkPurpose, now: Date): LinkClaims | null {
  const parts = token.split('.');
  if (parts.length !== 7 || parts[0] !== FORMAT) return null;
  const [, kid, code, customerId, versionText, exp, given] = parts;
  if (PURPOSES_BY_CODE[code] !== purpose) return null;
  if (!/^[0-9a-f-]{36}$/.test(customerId) || !/^[1-9][0-9]{0,8}$/.test(versionText) || !/^[0-9a-z]{1,10}$/.test(exp))
    return null;
  const signer = [keys.secret, ...(keys.previousSecrets ?? [])].map(derive).find((d) => d.kid === kid);
  if (!signer) return null;
  const expected = Buffer.from(mac(signer.keys[purpose], parts.slice(0, 6).join('.')));
  const actual = Buffer.from(given);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
  const expiresAt = exp === '0' ? null : new Date(parseInt(exp, 36) * 1000);
  // A preference link always expires; one claiming never to is not one we made.
  if (purpose === 'preferences' && !expiresAt) return null;
  if (expiresAt && expiresAt.getTime() <= now.getTime()) return null;
  return { customerId, purpose, version: Number(versionText), expiresAt };
}

/** preferenceLinkExpiry is when a preference link made at `now` stops working. */
export function preferenceLinkExpiry(now: Date): Date {
  return new Date(now.getTime() + PREFERENCE_LINK_DAYS * 24 * 3600_000);
}

/** CustomerLinks are the links a message carries. */
export interface CustomerLinks {
  preferences: string;
  unsubscribe: string;
}

/** customerLinks returns a fresh preference link (expiring in PREFERENCE_LINK_DAYS) and the unsubscribe link. */
export function customerLinks(
  settings: LinkKeys & { publicUrl: string },
  customer: { id: string; linkVersion: number },
  now: Date,
): CustomerLinks {
  const base = { customerId: customer.id, version: customer.linkVersion };
  const preferences = signCustomerLink(settings, {
    ...base,
    purpose: 'preferences',
    expiresAt: preferenceLinkExpiry(now),
  });
  const unsubscribe = signCustomerLink(settings, { ...base, purpose: 'unsubscribe', expiresAt: null });
  return {
    preferences: `${settings.publicUrl}/p/${preferences}`,
    unsubscribe: `${settings.publicUrl}/u/${unsubscribe}`,
  };
}

/** SHORT_CODE_ALPHABET has no look-alikes (0/O, 1/I/L), so a code typed in from paper is read right. */
export const SHORT_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
/** SHORT_CODE_LENGTH: 10 characters of 31 is about 50 bits, far beyond guessing at any rate the pages allow. */
export const SHORT_CODE_LENGTH = 10;

/** normalizeShortCode upper-cases a typed code and drops spaces and dashes; null when it cannot be one of ours. */
export function normalizeShortCode(typed: string): string | null {
  const code = typed.toUpperCase().replace(/[\s-]/g, '');
  if (code.length !== SHORT_CODE_LENGTH) return null;
  for (const ch of code) if (!SHORT_CODE_ALPHABET.includes(ch)) return null;
  return code;
}
