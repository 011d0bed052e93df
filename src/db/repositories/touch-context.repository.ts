/**
 * What delivering one touch reads, in one round trip: the customer, the step list of the plan run, the sale that
 * started it with its items, the segment and the person who would sign or call. Every delivered touch needs them, so
 * one statement instead of six is most of the database work a delivery does.
 */
import { sql } from 'kysely';
import { jsonArrayFrom, jsonObjectFrom } from 'kysely/helpers/postgres';
import type { Database } from '../database';
import type { PlanStep, Segment } from '../../domain/types';
import { toCustomer, type Customer } from './customer.repository';
import type { SaleRecord } from './sale.repository';
import { toSegment } from './segment.repository';
import { toStaff, type StaffMember } from './staff.repository';

/** TouchContextRows are the records a touch's delivery starts from. */
export interface TouchContextRows {
  customer: Customer;
  run: { plan: PlanStep[]; segmentId: string; saleId: string | null } | null;
  sale: SaleRecord | null;
  /** The plan run's segment, else the customer's. */
  segment: Segment | null;
  /** The person the touch names (its assignee, else the sale's salesperson), active or not; null when neither is set. */
  staff: StaffMember | null;
  /** A newsletter touch's edition, else null. */
  newsletter: { id: string; subject: string; body: string; status: string } | null;
}

interface SaleJson {
  id: string;
  source: string;
  externalId: string;
  soldAt: string;
  totalAmount: string;
  currency: string;
  salespersonId: string | null;
  segmentId: string;
  referralCode: string | null;
  items: SaleRecord['items'];
}

/**
 * loadTouchContextRows reads, for each touch, its customer, run, sale, segment and named person, in one statement for
 * all of them; the answer is aligned with `touchIds`, null where the touch or its customer is gone.
 */
export async function loadTouchContextRows(db: Database, touchIds: string[]): Promise<(TouchContextRows | null)[]> {
  const rows = await db
    .selectFrom('touches as t')
    .innerJoin('customers as c', 'c.id', 't.customerId')
    .selectAll('c')
    .select('t.id as touchId')
    .where('t.id', '=', sql<string>`any(${touchIds}::uuid[])`)
    .select((eb) => {
      const saleId = eb.selectFrom('planRuns as r').select('r.saleId').whereRef('r.id', '=', 't.planRunId');
      const salespersonId = eb.selectFrom('sales as s').select('s.salespersonId').where('s.id', '=', saleId);
      // The sale a message may speak of: the one that started the plan; for a touch of no plan (a newsletter), the
      // customer's latest.
      const messageSaleId = sql<string | null>`coalesce((select r.sale_id from plan_runs r where r.id = t.plan_run_id),
        case when t.plan_run_id is null then (select l.id from sales l where l.customer_id = c.id order by l.sold_at desc limit 1) end)`;
      return [
        jsonObjectFrom(
          eb
            .selectFrom('newsletters as n')
            .select(['n.id', 'n.subject', 'n.body', 'n.status'])
            .whereRef('n.id', '=', 't.newsletterId'),
        ).as('newsletter'),
        jsonObjectFrom(
          eb
            .selectFrom('planRuns as r')
            .select(['r.plan', 'r.segmentId', 'r.saleId'])
            .whereRef('r.id', '=', 't.planRunId'),
        ).as('run'),
        jsonObjectFrom(
          eb
            .selectFrom('sales as s')
            .select((se) => [
              's.id',
              's.source',
              's.externalId',
              's.soldAt',
              sql<string>`s.total_amount::text`.as('totalAmount'),
              's.currency',
              's.salespersonId',
              's.segmentId',
              's.referralCode',
              jsonArrayFrom(
                se
                  .selectFrom('saleItems as i')
                  .select([
                    'i.sku',
                    'i.name',
                    'i.category',
                    'i.quantity',
                    sql<string>`i.unit_price::text`.as('unitPrice'),
                  ])
                  .whereRef('i.saleId', '=', 's.id')
                  .orderBy('i.id'),
              ).as('items'),
            ])
            .where('s.id', '=', messageSaleId),
        ).as('sale'),
        jsonObjectFrom(
          eb
            .selectFrom('segments as g')
            .selectAll('g')
            .where('g.id', '=', (e) =>
              e.fn.coalesce(
                e.selectFrom('planRuns as r').select('r.segmentId').whereRef('r.id', '=', 't.planRunId'),
                e.ref('c.segmentId'),
              ),
            ),
        ).as('segment'),
        jsonObjectFrom(
          eb
            .selectFrom('staff as p')
            .selectAll('p')
            .where('p.id', '=', (e) => e.fn.coalesce(e.ref('t.assigneeId'), salespersonId)),
        ).as('staff'),
      ];
    })
    .execute();
  const byTouch = new Map(rows.map((r) => [r.touchId, r]));
  return touchIds.map((id) => {
    const row = byTouch.get(id);
    return row ? toContextRows(row) : null;
  });
}

function toContextRows(
  row: Record<string, unknown> & {
    run: unknown;
    sale: unknown;
    segment: unknown;
    staff: unknown;
    newsletter: TouchContextRows['newsletter'];
    touchId: string;
  },
): TouchContextRows {
  const { run: runJson, sale, segment, staff, newsletter, touchId: _touchId, ...customer } = row;
  const run = runJson as { plan: unknown; segmentId: string; saleId: string | null } | null;
  const s = sale as unknown as SaleJson | null;
  return {
    customer: toCustomer(customer as never),
    run: run ? { plan: run.plan as unknown as PlanStep[], segmentId: run.segmentId, saleId: run.saleId } : null,
    sale: s
      ? {
          id: s.id,
          source: s.source,
          externalId: s.externalId,
          soldAt: new Date(s.soldAt),
          total: { amount: s.totalAmount, currency: s.currency },
          salespersonId: s.salespersonId,
          segmentId: s.segmentId,
          referralCode: s.referralCode,
          items: s.items.map((i) => ({
            sku: i.sku,
            name: i.name,
            category: i.category,
            quantity: i.quantity,
            unitPrice: i.unitPrice,
          })),
        }
      : null,
    segment: segment ? toSegment(segment as never) : null,
    staff: staff ? toStaff(staff as never) : null,
    newsletter,
  };
}
