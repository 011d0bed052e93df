/** Reading customers: the profile, preferences and the whole timeline of sales, touches, tasks and notes. */
import * as customers from '../db/repositories/customer.repository';
import * as plans from '../db/repositories/plan.repository';
import { listSalesOfCustomer, type SaleRecord } from '../db/repositories/sale.repository';
import {
  listNotesOfCustomer,
  listTasksOfCustomer,
  type NoteEntry,
  type TaskEntry,
} from '../db/repositories/timeline.repository';
import { listReferralsOf, type ReferralCredit } from '../db/repositories/referral.repository';
import { NotFoundError } from './errors';
import { requireCustomer, scopeOf, visibleCustomers, type Viewer } from './visibility.service';
import type { ServiceContext } from './context';

/** TouchWithHistory is a touch and every status change it went through. */
export type TouchWithHistory = plans.Touch & { history: { at: Date; status: string; reason: string | null }[] };

/** CustomerProfile is a customer with their whole timeline. */
export interface CustomerProfile {
  customer: customers.Customer;
  sales: SaleRecord[];
  touches: TouchWithHistory[];
  tasks: TaskEntry[];
  notes: NoteEntry[];
  /** The sales credited to this customer's referral code. */
  referrals: ReferralCredit[];
}

/** getCustomer returns a customer or throws not_found. */
export async function getCustomer(ctx: ServiceContext, id: string): Promise<customers.Customer> {
  const customer = await customers.findCustomer(ctx.db, id);
  if (!customer) throw new NotFoundError('customer', id);
  return customer;
}

/** getTouchesWithHistory returns a customer's touches by due time, each with its status history. */
export async function getTouchesWithHistory(ctx: ServiceContext, customerId: string): Promise<TouchWithHistory[]> {
  const [touches, events] = await Promise.all([
    plans.listTouchesOfCustomer(ctx.db, customerId),
    plans.listEventsOfCustomer(ctx.db, customerId),
  ]);
  const byTouch = new Map<string, TouchWithHistory['history']>();
  for (const e of events) {
    const list = byTouch.get(e.touchId) ?? [];
    list.push({ at: e.at, status: e.status, reason: e.reason });
    byTouch.set(e.touchId, list);
  }
  return touches.map((t) => ({ ...t, history: byTouch.get(t.id) ?? [] }));
}

/** getVisibleCustomer returns a customer the viewer may see (visibility.service), else throws not_found. */
export async function getVisibleCustomer(ctx: ServiceContext, viewer: Viewer, id: string): Promise<customers.Customer> {
  const customer = await getCustomer(ctx, id);
  await requireCustomer(ctx, viewer, id);
  return customer;
}

/** getCustomerProfile returns a customer the viewer may see with sales, touches (with history), tasks and notes. */
export async function getCustomerProfile(ctx: ServiceContext, viewer: Viewer, id: string): Promise<CustomerProfile> {
  const customer = await getVisibleCustomer(ctx, viewer, id);
  const [sales, touches, tasks, notes, referrals] = await Promise.all([
    listSalesOfCustomer(ctx.db, id),
    getTouchesWithHistory(ctx, id),
    listTasksOfCustomer(ctx.db, id),
    listNotesOfCustomer(ctx.db, id),
    listReferralsOf(ctx.db, id),
  ]);
  return { customer, sales, touches, tasks, notes, referrals };
}

/** findCustomersByEmail looks up, by email address, the customers the viewer may see. */
export async function findCustomersByEmail(
  ctx: ServiceContext,
  viewer: Viewer,
  email: string,
): Promise<customers.Customer[]> {
  return visibleCustomers(ctx, await scopeOf(ctx, viewer), await customers.findCustomersByEmail(ctx.db, email));
}

/** flagForCleanup marks a customer for data clean-up (e.g. no address to reach them by when a contact fell due). */
export async function flagForCleanup(ctx: ServiceContext, customerId: string): Promise<void> {
  await customers.updateCustomer(ctx.db, customerId, { needsCleanup: true });
}

/** markEmailBounced records that the mail server refused a customer's address for good. */
export async function markEmailBounced(ctx: ServiceContext, customerId: string): Promise<void> {
  // On the clean-up list too, for someone to find a good address.
  await customers.updateCustomer(ctx.db, customerId, { emailStatus: 'bounced', needsCleanup: true });
}
