/** Read-side queries for the console's view of a customer: what was sent, the plan's steps, names, and search. */
import { sql } from 'kysely';
import type { Database } from '../database';
import type { PlanStep } from '../../domain/types';

/** SentContent is what was kept of a sent email or letter: its subject and text, and who signed it. */
export interface SentContent {
  touchId: string;
  subject: string | null;
  text: string | null;
  sender: string | null;
}

/** listSentContents returns the kept subject and text of a customer's emails and letters. */
export async function listSentContents(db: Database, customerId: string): Promise<SentContent[]> {
  const rows = await db
    .selectFrom('touches')
    .select(['id', 'content'])
    .where('customerId', '=', customerId)
    .where('content', 'is not', null)
    .execute();
  return rows.map((r) => {
    const c = (r.content ?? {}) as { subject?: unknown; text?: unknown; body?: unknown; sender?: { name?: unknown } };
    const text = typeof c.text === 'string' ? c.text : typeof c.body === 'string' ? c.body : null;
    return {
      touchId: r.id,
      subject: typeof c.subject === 'string' ? c.subject : null,
      text,
      sender: typeof c.sender?.name === 'string' ? c.sender.name : null,
    };
  });
}

/** listPlanSteps returns each of a customer's plan runs' steps by run id. */
export async function listPlanSteps(db: Database, customerId: string): Promise<Map<string, PlanStep[]>> {
  const rows = await db.selectFrom('planRuns').select(['id', 'plan']).where('customerId', '=', customerId).execute();
  const result = new Map<string, PlanStep[]>();
  for (const r of rows) {
    const plan = r.plan as { steps?: PlanStep[] } | PlanStep[] | null;
    result.set(r.id, Array.isArray(plan) ? plan : (plan?.steps ?? []));
  }
  return result;
}

/** staffNames returns the names of the given staff members by id. */
export async function staffNames(db: Database, ids: string[]): Promise<Map<string, string>> {
  const wanted = [...new Set(ids)];
  if (wanted.length === 0) return new Map();
  const rows = await db.selectFrom('staff').select(['id', 'name']).where('id', 'in', wanted).execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** CustomerHit is one search result. */
export interface CustomerHit {
  id: string;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  phone: string | null;
  referralCode: string;
  timezone: string | null;
}

/** CustomerSearch is what to look for: any of these that is set matches. */
export interface CustomerSearch {
  email?: string;
  phone?: string;
  referralCode?: string;
  /** Prefixes of the first and last name (a single word matches either). */
  firstPrefix?: string;
  lastPrefix?: string;
}

function likePrefix(s: string): string {
  return `${s.toLowerCase().replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
}

/**
 * searchCustomers finds customers matching `s`, limited to those `staffIds` look after (null: everyone), by name.
 * Erased customers are never found.
 */
export async function searchCustomers(
  db: Database,
  s: CustomerSearch,
  staffIds: string[] | null,
  limit: number,
): Promise<CustomerHit[]> {
  const conditions = [];
  if (s.email) conditions.push(sql`lower(c.email) = ${s.email.toLowerCase()}`);
  if (s.phone) conditions.push(sql`c.phone = ${s.phone}`);
  if (s.referralCode) conditions.push(sql`c.referral_code = ${s.referralCode}`);
  if (s.firstPrefix && s.lastPrefix) {
    conditions.push(
      sql`(lower(c.first_name) like ${likePrefix(s.firstPrefix)} and lower(c.last_name) like ${likePrefix(s.lastPrefix)})`,
    );
  } else if (s.firstPrefix) {
    conditions.push(sql`lower(c.first_name) like ${likePrefix(s.firstPrefix)}`);
    conditions.push(sql`lower(c.last_name) like ${likePrefix(s.firstPrefix)}`);
  }
  if (conditions.length === 0) return [];
  const scope =
    staffIds === null
      ? sql`true`
      : sql`(exists (select 1 from sales x where x.customer_id = c.id and x.salesperson_id = any(${staffIds}::uuid[]))
          or exists (select 1 from tasks k where k.customer_id = c.id and k.assignee_id = any(${staffIds}::uuid[])))`;
  const rows = await sql<CustomerHit>`
    select c.id, c.first_name as "firstName", c.last_name as "lastName", c.email, c.phone,
           c.referral_code as "referralCode", c.timezone
    from customers c
    where c.erased_at is null and (${sql.join(conditions, sql` or `)}) and ${scope}
    order by c.last_name nulls last, c.first_name nulls last, c.id
    limit ${limit}`.execute(db);
  return rows.rows;
}
