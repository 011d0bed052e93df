/**
 * What the customer's own page and their data download say, in words meant for them: the shop at the top (name,
 * address, phone, website) with their salesperson, the data held, their purchases, and the contacts made and
 * coming, each described for the customer (a step's `customerDescription`, else a sensible default by channel),
 * never a step's purpose or talking points, a delivery reason or a server path. The pages only lay this out.
 */
import { DateTime } from 'luxon';
import type { Customer } from '../db/repositories/customer.repository';
import * as control from '../db/repositories/customer-control.repository';
import { findStaffById, type StaffMember } from '../db/repositories/staff.repository';
import { listReferralsOf } from '../db/repositories/referral.repository';
import { listSalesOfCustomer, type SaleRecord } from '../db/repositories/sale.repository';
import { listNotesOfCustomer, listTasksOfCustomer } from '../db/repositories/timeline.repository';
import { audit } from '../db/repositories/access.repository';
import { renderTalkingPoints, TemplateError } from '../channels/templates';
import type { StaffRole } from '../domain/types';
import { getBusinessIdentity, type BusinessIdentity } from './business-identity.service';
import { resolveCustomerLink } from './customer-link.service';
import { buildMessageContext, chooseSender, oneLineAddress } from './touch-context.service';
import { CUSTOMER_ACTOR } from './customer-control.service';
import type { ServiceContext } from './context';

/** ContactLine is one contact as the customer sees it. */
export interface ContactLine {
  /** The date, in the customer's zone, e.g. "4 Dec 2026". */
  date: string;
  /** "Email", "Letter", "Phone call", "Newsletter". */
  how: string;
  /** In words for the customer, e.g. "A call from Sam to check your 3-seat sofa is working out". */
  description: string;
  /** For a past contact: "sent", "made", "not made"...; for a coming one: "planned". */
  status: string;
}

/** CustomerPageView is everything the customer's page shows, already in the customer's words and zone. */
export interface CustomerPageView {
  business: { name: string; addressLines: string[]; phone: string | null; website: string | null };
  salesperson: { name: string; title: string | null; phone: string | null } | null;
  zone: string;
  customer: {
    firstName: string | null;
    lastName: string | null;
    name: string;
    email: string | null;
    emailBounced: boolean;
    phone: string | null;
    address: Customer['address'];
    addressLines: string[];
    preferredChannel: 'email' | 'letter' | null;
    emails: boolean;
    newsletters: boolean;
    contact: boolean;
    referralCode: string;
    referrals: number;
  };
  purchases: { date: string; items: string[]; total: string }[];
  coming: ContactLine[];
  past: ContactLine[];
  /** Whether a link for the download or erasure can be emailed (an address that works is on record). */
  canEmailLinks: boolean;
}

const HOW: Record<string, string> = { email: 'Email', letter: 'Letter', call: 'Phone call', newsletter: 'Newsletter' };
const PAST_STATUS: Record<string, string> = {
  sent: 'sent',
  done: 'made',
  missed: 'not made',
  skipped: 'not sent',
  cancelled: 'cancelled',
  failed: 'not delivered',
  scheduled: 'planned',
  queued: 'on its way',
};

/** DEFAULT_DESCRIPTIONS describe a contact whose step has no customerDescription of its own. */
const DEFAULT_DESCRIPTIONS: Record<string, string> = {
  call: 'A call from {{ sender.firstName }} to see how you are getting on',
  email: 'An email from {{ sender.firstName }}',
  letter: 'A letter from {{ sender.firstName }}',
  newsletter: 'Our newsletter',
};

function day(d: Date, zone: string): string {
  return DateTime.fromJSDate(d, { zone }).setLocale('en').toFormat('d LLL yyyy');
}

function money(s: SaleRecord): string {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: s.total.currency }).format(
      Number(s.total.amount),
    );
  } catch {
    return `${s.total.currency} ${s.total.amount}`;
  }
}

function addressLines(a: Customer['address']): string[] {
  if (!a) return [];
  return [...a.lines, [a.city, a.region, a.postalCode].filter(Boolean).join(' '), a.country].filter(Boolean);
}

interface Described {
  coming: ContactLine[];
  past: ContactLine[];
}

/** describeContacts words each of a customer's contacts for them, choosing each coming one's signer as a send would. */
async function describeContacts(
  ctx: ServiceContext,
  identity: BusinessIdentity,
  customer: Customer,
  sales: SaleRecord[],
  zone: string,
): Promise<Described> {
  const touches = await control.listTouchViews(ctx.db, customer.id);
  const saleById = new Map(sales.map((s) => [s.id, s]));
  const latest = sales[sales.length - 1] ?? null;
  const senders = new Map<string, Promise<StaffMember | null>>();
  const senderOf = (role: StaffRole, preferred: string | null, salespersonId: string | null) => {
    const key = `${role}:${preferred}:${salespersonId}`;
    if (!senders.has(key)) senders.set(key, chooseSender(ctx.db, role, preferred, salespersonId));
    return senders.get(key)!;
  };
  const pending = (t: control.TouchView) => t.status === 'scheduled' || t.status === 'queued';
  const lines = await Promise.all(
    touches.map(async (t) => {
      const sale = (t.saleId ? saleById.get(t.saleId) : null) ?? latest;
      const role = (t.senderRole ?? 'salesperson') as StaffRole;
      const sender =
        t.channel === 'newsletter'
          ? null
          : await senderOf(role, t.assigneeId ?? sale?.salespersonId ?? null, sale?.salespersonId ?? null);
      const message = buildMessageContext(ctx, {
        identity,
        customer,
        sale,
        sender,
        zone,
        channel: t.channel === 'letter' ? 'letter' : t.channel === 'newsletter' ? 'newsletter' : 'email',
      });
      // What was sent is described by what it said; a signer named with it is the one the customer met.
      if (t.sentBy && !pending(t))
        message.sender = { ...message.sender, name: t.sentBy, firstName: t.sentBy.split(' ')[0] };
      const source = t.customerDescription || DEFAULT_DESCRIPTIONS[t.channel] || 'A note from us';
      let description: string;
      try {
        description = renderTalkingPoints([source], message)[0] ?? '';
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        description = renderTalkingPoints([DEFAULT_DESCRIPTIONS[t.channel] ?? 'A note from us'], message)[0];
      }
      if (!pending(t) && t.channel !== 'call') {
        const said = t.subject ?? t.newsletterSubject;
        if (said) description = `${description}: “${said}”`;
      }
      return {
        pending: pending(t),
        line: {
          date: day(pending(t) ? t.dueAt : (t.completedAt ?? t.dueAt), zone),
          how: HOW[t.channel] ?? t.channel,
          description,
          status: pending(t) ? 'planned' : (PAST_STATUS[t.status] ?? t.status),
        },
      };
    }),
  );
  return {
    coming: lines.filter((l) => l.pending).map((l) => l.line),
    past: lines
      .filter((l) => !l.pending)
      .map((l) => l.line)
      .reverse(),
  };
}

/** buildCustomerPageView builds what the page of `customer` shows. */
export async function buildCustomerPageView(ctx: ServiceContext, customer: Customer): Promise<CustomerPageView> {
  const zone = customer.timezone ?? ctx.settings.defaultTimezone;
  const [identity, sales, referrals] = await Promise.all([
    getBusinessIdentity(ctx),
    listSalesOfCustomer(ctx.db, customer.id),
    listReferralsOf(ctx.db, customer.id),
  ]);
  const latest = sales[sales.length - 1] ?? null;
  const person = latest?.salespersonId
    ? await chooseSender(ctx.db, 'salesperson', latest.salespersonId, latest.salespersonId)
    : null;
  const contacts = await describeContacts(ctx, identity, customer, sales, zone);
  const address = oneLineAddress(identity.address);
  return {
    business: {
      name: identity.name ?? '',
      addressLines: address ? [address] : [],
      phone: identity.phone,
      website: identity.website,
    },
    salesperson: person ? { name: person.name, title: person.title, phone: person.phone ?? identity.phone } : null,
    zone,
    customer: {
      firstName: customer.firstName,
      lastName: customer.lastName,
      name: [customer.firstName, customer.lastName].filter(Boolean).join(' '),
      email: customer.email,
      emailBounced: customer.emailStatus === 'bounced',
      phone: customer.phoneDisplay ?? customer.phone,
      address: customer.address,
      addressLines: addressLines(customer.address),
      preferredChannel: customer.preferredChannel,
      emails: !customer.emailOptOut,
      newsletters: !customer.newsletterOptOut,
      contact: !customer.doNotContact,
      referralCode: customer.referralCode,
      referrals: referrals.length,
    },
    purchases: sales.map((s) => ({
      date: day(s.soldAt, zone),
      items: s.items.map((i) => `${i.quantity} × ${i.name ?? i.sku ?? 'item'}`),
      total: money(s),
    })),
    coming: contacts.coming,
    past: contacts.past,
    canEmailLinks: !!customer.email && customer.emailStatus !== 'bounced',
  };
}

/** loadCustomerPage returns the page of the customer a preference link names; not_found for any other link. */
export async function loadCustomerPage(ctx: ServiceContext, token: string): Promise<CustomerPageView> {
  return buildCustomerPageView(ctx, await resolveCustomerLink(ctx, token, 'preferences'));
}

/** CHANGE_WORDS say the customer's own changes (from the audit trail) in their words. */
const CHANGE_WORDS: Record<string, string> = {
  'customer.contact_corrected': 'You corrected your contact details',
  'customer.opt_out.email': 'You turned off emails from us',
  'customer.opt_in.email': 'You turned emails from us back on',
  'customer.opt_out.newsletter': 'You turned off our newsletter',
  'customer.opt_in.newsletter': 'You turned our newsletter back on',
  'customer.opt_out.all': 'You asked us not to contact you',
  'customer.opt_in.all': 'You allowed us to contact you again',
  'customer.data_exported': 'You downloaded your data',
};

const OUTCOME_WORDS: Record<string, string> = {
  reached: 'we spoke',
  voicemail: 'we left a voicemail',
  no_answer: 'no answer',
  wrong_number: 'the number was wrong',
  complaint: 'you raised a concern, which we followed up',
};

/** sentText picks what the customer received from a touch's stored content: the subject and the words, nothing else. */
function sentText(content: unknown): { subject: string | null; text: string | null; signedBy: string | null } {
  const c = (content ?? {}) as { subject?: unknown; text?: unknown; body?: unknown; sender?: { name?: unknown } };
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return { subject: str(c.subject), text: str(c.text) ?? str(c.body), signedBy: str(c.sender?.name) };
}

/** CustomerExport is the customer's download: their data and what was sent to them, in plain words. */
export interface CustomerExport {
  exportedAt: string;
  from: CustomerPageView['business'];
  you: Omit<CustomerPageView['customer'], 'address' | 'addressLines' | 'emailBounced'> & {
    address: Customer['address'];
    timezone: string | null;
    customerSince: string;
    /** The details the customer corrected themselves (the values they replaced are kept only as digests). */
    correctedFields: string[];
  };
  purchases: {
    date: string;
    items: { name: string | null; sku: string | null; quantity: number; unitPrice: string }[];
    total: string;
  }[];
  sentToYou: { date: string; how: string; subject: string | null; text: string | null; signedBy: string | null }[];
  calls: { date: string; by: string | null; outcome: string | null; notes: string | null }[];
  coming: ContactLine[];
  notesAboutYou: { date: string; text: string }[];
  yourChanges: { date: string; what: string }[];
}

/** exportCustomerData returns everything held about a customer, as they download it, and records the download. */
export async function exportCustomerData(ctx: ServiceContext, customer: Customer): Promise<CustomerExport> {
  const now = ctx.clock.now();
  const view = await buildCustomerPageView(ctx, customer);
  const zone = view.zone;
  const [sales, touches, contents, tasks, notes, trail] = await Promise.all([
    listSalesOfCustomer(ctx.db, customer.id),
    control.listTouchViews(ctx.db, customer.id),
    control.listTouchContents(ctx.db, customer.id),
    listTasksOfCustomer(ctx.db, customer.id),
    listNotesOfCustomer(ctx.db, customer.id),
    control.listAuditOfCustomer(ctx.db, customer.id),
  ]);
  const touchById = new Map(touches.map((t) => [t.id, t]));
  const people = new Map<string, string | null>();
  for (const id of new Set(tasks.map((t) => t.assigneeId).filter((x): x is string => !!x)))
    people.set(id, (await findStaffById(ctx.db, id))?.name ?? null);
  await audit(ctx.db, {
    actor: CUSTOMER_ACTOR,
    action: 'customer.data_exported',
    entity: 'customer',
    entityId: customer.id,
    at: now,
  });
  const { address: _a, addressLines: _l, emailBounced: _b, ...you } = view.customer;
  return {
    exportedAt: now.toISOString(),
    from: view.business,
    you: {
      ...you,
      address: customer.address,
      timezone: customer.timezone,
      customerSince: day(customer.createdAt, zone),
      correctedFields: Object.keys(customer.contactCorrections),
    },
    purchases: sales.map((s) => ({
      date: day(s.soldAt, zone),
      items: s.items.map((i) => ({ name: i.name, sku: i.sku, quantity: i.quantity, unitPrice: i.unitPrice })),
      total: money(s),
    })),
    sentToYou: contents.flatMap((c) => {
      const t = touchById.get(c.touchId);
      if (!t || t.channel === 'call' || !['sent', 'queued'].includes(t.status)) return [];
      const sent = sentText(c.content);
      return [
        {
          date: day(t.completedAt ?? t.dueAt, zone),
          how: HOW[t.channel] ?? t.channel,
          ...sent,
          subject: sent.subject ?? t.newsletterSubject,
        },
      ];
    }),
    calls: tasks
      .filter((t) => t.kind === 'call' && t.status === 'done')
      .map((t) => ({
        date: day(t.completedAt ?? t.dueAt, zone),
        by: t.assigneeId ? (people.get(t.assigneeId) ?? null) : null,
        outcome: t.outcome ? (OUTCOME_WORDS[t.outcome] ?? null) : null,
        notes: t.notes,
      })),
    coming: view.coming,
    notesAboutYou: notes.map((n) => ({ date: day(n.createdAt, zone), text: n.body })),
    yourChanges: trail
      .filter((e) => e.actor === CUSTOMER_ACTOR && CHANGE_WORDS[e.action])
      .map((e) => ({ date: day(e.at, zone), what: CHANGE_WORDS[e.action] })),
  };
}
