/**
 * Everything a channel needs to deliver one touch: the customer, the step of the plan the run was given, the sale
 * that started it, who signs or calls, and the template variables. Loaded once per delivery.
 */
import { DateTime } from 'luxon';
import type { PlanStep, StaffRole } from '../domain/types';
import type { Database } from '../db/database';
import type { Customer } from '../db/repositories/customer.repository';
import type { SaleRecord } from '../db/repositories/sale.repository';
import { loadTouchContextRows, type TouchContextRows } from '../db/repositories/touch-context.repository';
import { findFirstActiveByRole, findStaffById, type StaffMember } from '../db/repositories/staff.repository';
import type { LeasedTouch } from '../db/repositories/dispatch.repository';
import type { MessageContext } from '../channels/templates';
import type { Segment } from '../domain/types';
import { customerLinks } from './customer-link';
import type { ServiceContext } from './context';

/** TouchContext is a touch with what its delivery needs. */
export interface TouchContext {
  touch: LeasedTouch;
  customer: Customer;
  step: PlanStep | null;
  segment: Segment | null;
  sale: SaleRecord | null;
  /** Who signs the letter or email, or makes the call; null means the business itself. */
  sender: StaffMember | null;
  zone: string;
  message: MessageContext;
}

/**
 * resolveStaff returns an active person for a role: the given person when still active, else their manager, else
 * the first active person with the fallback role (an executive for the anniversary call), else null.
 */
export async function resolveStaff(
  db: Database,
  preferredId: string | null,
  role: StaffRole | null,
): Promise<StaffMember | null> {
  let person = preferredId ? await findStaffById(db, preferredId) : null;
  for (let hops = 0; person && !person.active && hops < 5; hops++) {
    person = person.managerId ? await findStaffById(db, person.managerId) : null;
  }
  if (person?.active) return person;
  return role ? findFirstActiveByRole(db, role) : null;
}

// Building an Intl.NumberFormat costs far more than formatting with one, and every delivery formats a total.
const moneyFormats = new Map<string, Intl.NumberFormat>();

function formatMoney(amount: string, currency: string): string {
  try {
    let format = moneyFormats.get(currency);
    if (!format) {
      format = new Intl.NumberFormat('en', { style: 'currency', currency });
      moneyFormats.set(currency, format);
    }
    return format.format(Number(amount));
  } catch {
    return `${currency} ${amount}`;
  }
}

/** buildMessageContext assembles the template variables for one customer. */
export function buildMessageContext(
  ctx: ServiceContext,
  customer: Customer,
  sale: SaleRecord | null,
  sender: StaffMember | null,
  zone: string,
): MessageContext {
  return {
    customer: {
      firstName: customer.firstName ?? '',
      lastName: customer.lastName ?? '',
      referralCode: customer.referralCode,
    },
    sale: {
      mainItem: sale?.items[0]?.name ?? 'purchase',
      items: (sale?.items ?? []).map((i) => ({
        name: i.name ?? '',
        quantity: i.quantity,
        sku: i.sku ?? undefined,
        category: i.category ?? undefined,
      })),
      total: sale ? formatMoney(sale.total.amount, sale.total.currency) : '',
      soldAt: sale ? DateTime.fromJSDate(sale.soldAt, { zone }).toFormat('d MMMM yyyy') : '',
    },
    sender: sender ? { name: sender.name, title: sender.title } : { name: ctx.settings.businessName, title: null },
    business: { name: ctx.settings.businessName },
    links: customerLinks(ctx.settings.publicUrl, ctx.settings.secret, customer.id),
  };
}

/** TouchRowsLoader reads the context rows of one touch; the worker's gathers concurrent deliveries into one statement. */
export type TouchRowsLoader = (touchId: string) => Promise<TouchContextRows | null>;

/**
 * loadTouchContext loads a leased touch's customer, step, sale and sender; null when the customer is gone. One
 * statement reads the customer, run, sale, segment and the named person (the hot path of every delivery).
 */
export async function loadTouchContext(
  ctx: ServiceContext,
  touch: LeasedTouch,
  loadRows: TouchRowsLoader = async (id) => (await loadTouchContextRows(ctx.db, [id]))[0] ?? null,
): Promise<TouchContext | null> {
  const rows = await loadRows(touch.id);
  if (!rows) return null;
  const { customer, run, sale, segment } = rows;
  const step = run?.plan.find((s) => s.step === touch.step) ?? null;
  const role = (step?.sender ?? step?.assignee ?? touch.senderRole ?? null) as StaffRole | null;
  const preferred = role === 'executive' ? null : (touch.assigneeId ?? sale?.salespersonId ?? null);
  // The person already read is the answer when still active; only someone who left needs the walk up to a manager.
  const sender =
    preferred && rows.staff?.id === preferred && rows.staff.active
      ? rows.staff
      : ((await resolveStaff(ctx.db, preferred, role === 'executive' ? 'executive' : null)) ??
        (await resolveStaff(ctx.db, sale?.salespersonId ?? null, null)));
  const zone = customer.timezone ?? ctx.settings.defaultTimezone;
  return {
    touch,
    customer,
    step,
    segment,
    sale,
    sender,
    zone,
    message: buildMessageContext(ctx, customer, sale, sender, zone),
  };
}
