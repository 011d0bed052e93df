/**
 * Data clean-up: the customers flagged because a contact could not be made (no address to write to, an email that
 * bounced, a number a call found wrong), with why, for a manager to fix their details and mark resolved. A manager
 * sees the customers their team looks after (visibility.service), an admin key all of them.
 */
import { chooseMailChannel, contactPointsOf } from '../domain/channel';
import type { Address } from '../domain/types';
import { audit } from '../db/repositories/access.repository';
import * as repo from '../db/repositories/cleanup.repository';
import type { Customer } from '../db/repositories/customer.repository';
import {
  correctContactDetailsForCustomer,
  type ContactCorrection,
  type PreferenceChange,
} from './customer-control.service';
import { getVisibleCustomer } from './customer.service';
import { requireCustomer, scopeOf, type Viewer } from './visibility.service';
import { NotFoundError, ValidationError } from './errors';
import type { ServiceContext } from './context';

/** CLEANUP_PAGE is how many flagged customers one page lists. */
export const CLEANUP_PAGE = 50;

/** CleanupReason is one reason a customer is on the list, in words for the manager. */
export interface CleanupReason {
  code: 'no_address' | 'bounced_email' | 'wrong_number' | 'possible_duplicate' | 'unknown';
  text: string;
  /** When it was found, where that is known. */
  at: Date | null;
}

/** CleanupItem is a flagged customer with their contact details and why they are flagged. */
export interface CleanupItem {
  id: string;
  name: string;
  email: string | null;
  emailBounced: boolean;
  phone: string | null;
  address: Address | null;
  flagged: boolean;
  reasons: CleanupReason[];
}

/** duplicateText says what a sale matched by phone only gave that differs from the customer. */
function duplicateText(d: repo.PossibleDuplicate): string {
  const name = [d.given.firstName, d.given.lastName].filter(Boolean).join(' ');
  const gave = [name && `the name ${name}`, d.given.email && `the email ${d.given.email}`]
    .filter(Boolean)
    .join(' and ');
  return `Possible duplicate: a sale with this phone number gave ${gave || 'other details'}. It was recorded on this customer without changing their details. If those are their new details, update them; if it was someone else, nothing needs changing but marking it resolved`;
}

/**
 * reasonsOf says why a flagged customer is on the list, from what is known now: no way to write to them, a bounced
 * email, a call that found the number wrong, a sale matched by phone only that named someone else. A customer whose
 * details were fixed since shows no reason left.
 */
export function reasonsOf(
  c: Customer,
  wrongNumberAt: Date | null,
  duplicates: repo.PossibleDuplicate[] = [],
): CleanupReason[] {
  const reasons: CleanupReason[] = [];
  const mail = chooseMailChannel(contactPointsOf(c));
  if (mail.channel === null && mail.reason === 'no_address')
    reasons.push({
      code: 'no_address',
      text: 'No address to write to: no usable email and no postal address',
      at: null,
    });
  if (c.emailStatus === 'bounced') reasons.push({ code: 'bounced_email', text: 'Email bounced', at: null });
  if (wrongNumberAt) reasons.push({ code: 'wrong_number', text: 'Wrong number, found on a call', at: wrongNumberAt });
  for (const d of duplicates) reasons.push({ code: 'possible_duplicate', text: duplicateText(d), at: d.at });
  if (reasons.length === 0 && c.needsCleanup)
    reasons.push({ code: 'unknown', text: 'No reason left: the details look complete now', at: null });
  return reasons;
}

function nameOf(c: Customer): string {
  return [c.firstName, c.lastName].filter(Boolean).join(' ') || c.email || 'Customer without a name';
}

function itemOf(c: Customer, wrongNumberAt: Date | null, duplicates: repo.PossibleDuplicate[]): CleanupItem {
  return {
    id: c.id,
    name: nameOf(c),
    email: c.email,
    emailBounced: c.emailStatus === 'bounced',
    // As it was given (a till's formatting), not the E.164 form kept for matching.
    phone: c.phoneDisplay ?? c.phone,
    address: c.address,
    flagged: c.needsCleanup || duplicates.length > 0,
    reasons: reasonsOf(c, wrongNumberAt, duplicates),
  };
}

/** CleanupPage is one page of the list and where it sits in the whole. */
export interface CleanupPage {
  items: CleanupItem[];
  total: number;
  page: number;
  pages: number;
}

/** listCleanup returns a page (1 is the first) of the flagged customers the viewer may see. */
export async function listCleanup(ctx: ServiceContext, viewer: Viewer, page = 1): Promise<CleanupPage> {
  if (!Number.isInteger(page) || page < 1 || page > 100_000) throw new ValidationError('page', 'must be 1 or more');
  const scope = await scopeOf(ctx, viewer);
  const staffIds = scope.all ? null : scope.staffIds;
  if (staffIds && staffIds.length === 0) return { items: [], total: 0, page, pages: 1 };
  const { rows, total } = await repo.listFlagged(ctx.db, staffIds, CLEANUP_PAGE, (page - 1) * CLEANUP_PAGE);
  return {
    items: rows.map((r) => itemOf(r.customer, r.wrongNumberAt, r.duplicates)),
    total,
    page,
    pages: Math.max(1, Math.ceil(total / CLEANUP_PAGE)),
  };
}

/** getCleanupItem returns one customer the viewer may see, flagged or not, with the reasons. */
export async function getCleanupItem(ctx: ServiceContext, viewer: Viewer, id: string): Promise<CleanupItem> {
  const c = await getVisibleCustomer(ctx, viewer, id);
  if (c.erasedAt) throw new NotFoundError('customer', id);
  const [wrongNumberAt, duplicates] = await Promise.all([
    repo.lastWrongNumberAt(ctx.db, id),
    repo.listOpenDuplicates(ctx.db, id),
  ]);
  return itemOf(c, wrongNumberAt, duplicates);
}

/**
 * fixContactDetails corrects a customer's email, phone or postal address on their behalf, through the customer's own
 * correction (the same checks, re-routing and audit); the flag stays until the manager marks it resolved.
 */
export async function fixContactDetails(
  ctx: ServiceContext,
  viewer: Viewer,
  id: string,
  input: ContactCorrection,
  actor: string,
): Promise<PreferenceChange> {
  await requireCustomer(ctx, viewer, id);
  return correctContactDetailsForCustomer(ctx, id, input, actor);
}

/** resolveCleanup takes a customer off the clean-up list, their possible duplicates looked at. */
export async function resolveCleanup(ctx: ServiceContext, viewer: Viewer, id: string, actor: string): Promise<void> {
  const item = await getCleanupItem(ctx, viewer, id);
  const now = ctx.clock.now();
  // The flag, the duplicates and the audit entry change together or not at all.
  await ctx.db.transaction().execute(async (trx) => {
    if (!(await repo.setCleanupFlag(trx, id, false, now))) throw new NotFoundError('customer', id);
    await repo.resolveDuplicates(trx, id, now);
    await audit(trx, {
      actor,
      action: 'customer.cleanup_resolved',
      entity: 'customer',
      entityId: id,
      detail: { reasons: item.reasons.map((r) => r.code) },
      at: now,
    });
  });
}
