/**
 * Signed customer links: the token in /p/:token and /u/:token names a customer and carries an HMAC made with
 * RAPPORT_SECRET, so it cannot be guessed or forged, and needs no login or cookie.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const VERSION = 'v1';

function mac(secret: string, customerId: string): string {
  return createHmac('sha256', secret).update(`${VERSION}:${customerId}`).digest('base64url');
}

/** signCustomerToken returns the token for a customer's links. */
export function signCustomerToken(secret: string, customerId: string): string {
  return `${VERSION}.${customerId}.${mac(secret, customerId)}`;
}

/** verifyCustomerToken returns the customer id of a valid token, or null for a forged, altered or malformed one. */
export function verifyCustomerToken(secret: string, token: string): string | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return null;
  const [, customerId, given] = parts;
  if (!/^[0-9a-f-]{36}$/.test(customerId)) return null;
  const expected = Buffer.from(mac(secret, customerId));
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual) ? customerId : null;
}

/** customerLinks returns the preference page and one-click unsubscribe URLs of a customer. */
export function customerLinks(
  publicUrl: string,
  secret: string,
  customerId: string,
): { preferences: string; unsubscribe: string } {
  const token = signCustomerToken(secret, customerId);
  return { preferences: `${publicUrl}/p/${token}`, unsubscribe: `${publicUrl}/u/${token}` };
}
