/**
 * Customer links with their checks against the database: a signed link names a customer at a link version that
 * must still be theirs (an erasure or a new email address voids every older link); the short code printed on a
 * letter stands for a preference link; export and erasure need a fresh single-use link sent to the customer's email
 * address on request, valid for 30 minutes.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { findCustomer, type Customer } from '../db/repositories/customer.repository';
import * as repo from '../db/repositories/customer-link.repository';
import type { EmailChannel } from '../channels/email.channel';
import { escapeHtml } from '../channels/templates';
import {
  normalizeShortCode,
  preferenceLinkExpiry,
  SHORT_CODE_ALPHABET,
  SHORT_CODE_LENGTH,
  signCustomerLink,
  verifyCustomerLink,
  type LinkPurpose,
} from './customer-link';
import { getBusinessIdentity } from './business-identity.service';
import { AppError, NotFoundError } from './errors';
import type { ServiceContext } from './context';

/** DATA_LINK_MINUTES is how long an emailed export or erasure link works. */
export const DATA_LINK_MINUTES = 30;

/** notFound is the one answer to any link that does not work, so a link reveals nothing about who exists. */
function notFound(): NotFoundError {
  return new NotFoundError('customer link', 'given');
}

/** current tells whether a link made at `version` still speaks for the customer. */
function current(customer: Customer | null, version: number): customer is Customer {
  return customer !== null && !customer.erasedAt && customer.linkVersion === version;
}

/** resolveCustomerLink returns the customer a signed link for `purpose` names, or throws not_found. */
export async function resolveCustomerLink(ctx: ServiceContext, token: string, purpose: LinkPurpose): Promise<Customer> {
  const claims = verifyCustomerLink(ctx.settings, token, purpose, ctx.clock.now());
  if (!claims) throw notFound();
  const customer = await findCustomer(ctx.db, claims.customerId);
  if (!current(customer, claims.version)) throw notFound();
  return customer;
}

/** preferenceToken returns a fresh preference token for a customer (after a change that bumped their version). */
export function preferenceToken(ctx: ServiceContext, customer: Customer): string {
  return signCustomerLink(ctx.settings, {
    customerId: customer.id,
    purpose: 'preferences',
    version: customer.linkVersion,
    expiresAt: preferenceLinkExpiry(ctx.clock.now()),
  });
}

function drawCode(): string {
  let code = '';
  for (let i = 0; i < SHORT_CODE_LENGTH; i++) code += SHORT_CODE_ALPHABET[randomInt(SHORT_CODE_ALPHABET.length)];
  return code;
}

/**
 * createShortPreferenceLink stores a new random code for the customer's preference page, expiring with a preference
 * link, and returns its URL (`<PUBLIC_URL>/l/<code>`), short enough to type in from a letter.
 */
export async function createShortPreferenceLink(ctx: ServiceContext, customer: Customer): Promise<string> {
  const now = ctx.clock.now();
  for (let attempt = 0; attempt < 5; attempt++) {
    const code = drawCode();
    const stored = await repo.insertLinkCode(ctx.db, {
      code,
      customerId: customer.id,
      linkVersion: customer.linkVersion,
      expiresAt: preferenceLinkExpiry(now),
      createdAt: now,
    });
    if (stored) return `${ctx.settings.publicUrl}/l/${code}`;
  }
  throw new Error('could not draw a free short link code in 5 attempts');
}

/** resolveShortCode returns a fresh preference token for the customer a short code stands for, or throws not_found. */
export async function resolveShortCode(ctx: ServiceContext, typed: string): Promise<string> {
  const code = normalizeShortCode(typed);
  if (!code) throw notFound();
  const found = await repo.findLinkCode(ctx.db, code, ctx.clock.now());
  const customer = found ? await findCustomer(ctx.db, found.customerId) : null;
  if (!found || !current(customer, found.linkVersion)) throw notFound();
  return preferenceToken(ctx, customer);
}

/** DataLinkPurpose is what an emailed single-use link does. */
export type DataLinkPurpose = 'export' | 'erase';

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** DataLinkRequest is how a request for an export or erasure link ended. */
export type DataLinkRequest = { sent: true } | { sent: false; reason: 'no_email' };

/**
 * requestDataLink emails the customer a single-use link (valid DATA_LINK_MINUTES) to download or erase their data.
 * It goes to the address on record only, so a preference link seen by someone else cannot take the data.
 */
export async function requestDataLink(
  ctx: ServiceContext,
  email: EmailChannel | undefined,
  preferenceLink: string,
  purpose: DataLinkPurpose,
): Promise<DataLinkRequest> {
  const customer = await resolveCustomerLink(ctx, preferenceLink, 'preferences');
  if (!customer.email || customer.emailStatus === 'bounced') return { sent: false, reason: 'no_email' };
  if (!email) throw new AppError('unavailable', 'email cannot be sent from here just now; please try again later');
  const now = ctx.clock.now();
  const token = randomBytes(24).toString('base64url');
  const expiresAt = new Date(now.getTime() + DATA_LINK_MINUTES * 60_000);
  await repo.insertGrant(ctx.db, {
    tokenHash: digest(token),
    customerId: customer.id,
    purpose,
    linkVersion: customer.linkVersion,
    expiresAt,
    createdAt: now,
  });
  const identity = await getBusinessIdentity(ctx);
  const business = identity.name ?? '';
  const url = `${ctx.settings.publicUrl}/d/${token}`;
  const what =
    purpose === 'export' ? 'download a copy of the data we hold about you' : 'erase the data we hold about you';
  const greeting = customer.firstName ? `Dear ${customer.firstName},` : 'Hello,';
  const paragraphs = [
    greeting,
    `You asked for a link to ${what}. Here it is; it works once, for the next ${DATA_LINK_MINUTES} minutes:`,
    url,
    'If you did not ask for this, you can ignore this email: nothing changes.',
    [business, identity.phone ? `Phone ${identity.phone}` : ''].filter(Boolean).join('\n'),
  ];
  const result = await email.send({
    from: identity.emailFrom,
    to: customer.email,
    subject: purpose === 'export' ? `Your data from ${business}` : `Erasing your data at ${business}`,
    text: paragraphs.join('\n\n') + '\n',
    html:
      '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="font-family:Helvetica,Arial,sans-serif;font-size:15px;color:#222;">' +
      paragraphs
        .map((p) =>
          p === url
            ? `<p><a href="${escapeHtml(url)}">${escapeHtml(purpose === 'export' ? 'Download my data' : 'Erase my data')}</a></p>`
            : `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`,
        )
        .join('') +
      '</body></html>',
    messageId: `<data-${digest(token).slice(0, 24)}@${new URL(ctx.settings.publicUrl).hostname}>`,
  });
  if (!result.ok) throw new AppError('unavailable', 'the email could not be sent just now; please try again later');
  return { sent: true };
}

/** peekDataLink returns what an unused, unexpired single-use link is for, without using it; throws not_found. */
export async function peekDataLink(ctx: ServiceContext, token: string): Promise<{ purpose: DataLinkPurpose }> {
  const grant = await repo.findGrant(ctx.db, digest(token), ctx.clock.now());
  const customer = grant ? await findCustomer(ctx.db, grant.customerId) : null;
  if (!grant || !current(customer, grant.linkVersion)) throw notFound();
  return { purpose: grant.purpose };
}

/** useDataLink uses a single-use link once and returns its customer and purpose; any later use is not_found. */
export async function useDataLink(
  ctx: ServiceContext,
  token: string,
): Promise<{ customer: Customer; purpose: DataLinkPurpose }> {
  const grant = await repo.useGrant(ctx.db, digest(token), ctx.clock.now());
  const customer = grant ? await findCustomer(ctx.db, grant.customerId) : null;
  if (!grant || !current(customer, grant.linkVersion)) throw notFound();
  return { customer, purpose: grant.purpose };
}
