/** Choosing between a letter and an email for a customer: the policy of SPEC.md, as one pure function. */
import type { ContactPoints } from './types';

/** CustomerContact is the stored shape of a customer's contact points, as repositories return them. */
export interface CustomerContact {
  email: string | null;
  emailStatus: string;
  emailOptOut: boolean;
  address: ContactPoints['address'];
  preferredChannel: 'email' | 'letter' | null;
  doNotContact: boolean;
}

/** contactPointsOf is what the letter-or-email policy needs to know about a stored customer. */
export function contactPointsOf(c: CustomerContact): ContactPoints {
  return {
    email: c.email,
    emailBounced: c.emailStatus === 'bounced',
    emailOptOut: c.emailOptOut,
    address: c.address,
    preferredChannel: c.preferredChannel,
    doNotContact: c.doNotContact,
  };
}

/** MailChoice is the channel chosen for a letter-or-email step, or why none could be. */
export type MailChoice = { channel: 'email' | 'letter' } | { channel: null; reason: 'no_address' | 'do_not_contact' };

function canEmail(c: ContactPoints): boolean {
  return Boolean(c.email) && !c.emailOptOut && !c.emailBounced;
}

function canPost(c: ContactPoints): boolean {
  return Boolean(c.address && c.address.lines.length > 0);
}

/**
 * chooseMailChannel applies the preference order: the customer's preferred channel when usable, else email where an
 * address is known and not opted out or bounced, else a letter where a postal address is known, else nothing.
 */
export function chooseMailChannel(c: ContactPoints): MailChoice {
  if (c.doNotContact) return { channel: null, reason: 'do_not_contact' };
  if (c.preferredChannel === 'letter' && canPost(c)) return { channel: 'letter' };
  if (c.preferredChannel === 'email' && canEmail(c)) return { channel: 'email' };
  if (canEmail(c)) return { channel: 'email' };
  if (canPost(c)) return { channel: 'letter' };
  return { channel: null, reason: 'no_address' };
}
