/** Customer links in tests: tokens made as the service makes them, and the links found in a rendered message. */
import {
  customerLinks,
  signCustomerLink,
  preferenceLinkExpiry,
  verifyCustomerLink,
  type LinkPurpose,
} from '../../src/services/customer-link';
import { TEST_SETTINGS } from './app';

/** preferenceToken is a valid preference token for a customer at link version `version`, made at `now`. */
export function preferenceToken(customerId: string, now = new Date(), version = 1): string {
  return signCustomerLink(TEST_SETTINGS, {
    customerId,
    purpose: 'preferences',
    version,
    expiresAt: preferenceLinkExpiry(now),
  });
}

/** unsubscribeToken is the unsubscribe token of a customer at link version `version`. */
export function unsubscribeToken(customerId: string, version = 1): string {
  return signCustomerLink(TEST_SETTINGS, { customerId, purpose: 'unsubscribe', version, expiresAt: null });
}

/** linksOf are a customer's links as a message made at `now` carries them. */
export function linksOf(customerId: string, now: Date, version = 1) {
  return customerLinks(TEST_SETTINGS, { id: customerId, linkVersion: version }, now);
}

/** linkIn returns the token of the first `/p/` or `/u/` link in `text`, or null. */
export function linkIn(text: string, kind: 'p' | 'u'): string | null {
  const m = new RegExp(
    `${TEST_SETTINGS.publicUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/${kind}/([A-Za-z0-9._-]+)`,
  ).exec(text);
  return m ? m[1] : null;
}

/** customerOfLink returns the customer a token names for `purpose` (valid at `now`), or null. */
export function customerOfLink(token: string | null, purpose: LinkPurpose, now = new Date()): string | null {
  return token ? (verifyCustomerLink(TEST_SETTINGS, token, purpose, now)?.customerId ?? null) : null;
}
