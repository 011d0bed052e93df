/**
 * May we contact this customer now, and how? One function for every channel (SPEC.md: opt-out and consent, customer
 * control, complaints): customer state × channel → send, reroute to the other written channel, wait, or skip with a
 * reason. Delivery asks it at the moment a contact goes out, so what changed since it was planned or queued counts.
 */
import { chooseMailChannel } from './channel';
import type { Address } from './types';

/** ContactState is what deciding a delivery needs to know about a customer today. */
export interface ContactState {
  erasedAt: Date | null;
  doNotContact: boolean;
  paused: boolean;
  email: string | null;
  emailStatus: string;
  emailOptOut: boolean;
  newsletterOptOut: boolean;
  address: Address | null;
  preferredChannel: 'email' | 'letter' | null;
}

/** DeliveryChannel is a channel a touch is delivered by. */
export type DeliveryChannel = 'email' | 'letter' | 'call' | 'newsletter';

/** Eligibility is what to do with a contact about to go out. */
export type Eligibility =
  | { action: 'send' }
  | { action: 'reroute'; channel: 'email' | 'letter' }
  /** A paused plan resumes later: the touch goes back to the schedule. */
  | { action: 'wait'; reason: 'customer_paused' }
  /** Never to be sent: `cleanup` asks for the customer to be flagged for data clean-up. */
  | { action: 'skip'; status: 'skipped' | 'cancelled'; reason: string; cleanup?: boolean };

/**
 * eligibility decides a delivery. Erased and do-not-contact customers get nothing; a paused customer's letters,
 * emails and calls wait (a newsletter would arrive stale, so it is skipped); an email opt-out stops emails and
 * newsletters; a letter or email goes by the customer's channel of today (`preferLetter`: a personal letter goes by
 * post wherever a postal address is known), or is skipped `no_address` when neither reaches them.
 */
export function eligibility(
  c: ContactState,
  channel: DeliveryChannel,
  o: { preferLetter?: boolean } = {},
): Eligibility {
  if (c.erasedAt) return { action: 'skip', status: 'cancelled', reason: 'erased' };
  if (c.doNotContact) return { action: 'skip', status: 'cancelled', reason: 'do_not_contact' };
  if (channel === 'newsletter') {
    if (c.newsletterOptOut) return { action: 'skip', status: 'cancelled', reason: 'newsletter_opt_out' };
    if (c.emailOptOut) return { action: 'skip', status: 'cancelled', reason: 'email_opt_out' };
    if (c.paused) return { action: 'skip', status: 'skipped', reason: 'customer_paused' };
    if (!c.email || c.emailStatus === 'bounced') return { action: 'skip', status: 'skipped', reason: 'no_email' };
    return { action: 'send' };
  }
  if (c.paused) return { action: 'wait', reason: 'customer_paused' };
  if (channel === 'call') return { action: 'send' };
  const choice = chooseMailChannel({
    email: c.email,
    emailBounced: c.emailStatus === 'bounced',
    emailOptOut: c.emailOptOut,
    address: c.address,
    preferredChannel: o.preferLetter ? 'letter' : c.preferredChannel,
    doNotContact: c.doNotContact,
  });
  if (choice.channel === null)
    return choice.reason === 'no_address'
      ? { action: 'skip', status: 'skipped', reason: 'no_address', cleanup: true }
      : { action: 'skip', status: 'cancelled', reason: choice.reason };
  return choice.channel === channel ? { action: 'send' } : { action: 'reroute', channel: choice.channel };
}
