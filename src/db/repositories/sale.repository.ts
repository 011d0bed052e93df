/** Sales and their items; the stored first answer makes a replayed sale idempotent. */
import type { Selectable } from 'kysely';
import type { Database } from '../database';
import type { Sales } from '../types';

/** StoredSaleKey is what a replay check needs of an existing sale. */
export interface StoredSaleKey {
  id: string;
  requestHash: string;
  response: unknown;
}

/** SaleRecord is a sale on a customer's timeline. */
export interface SaleRecord {
  id: string;
  source: string;
  externalId: string;
  soldAt: Date;
  total: { amount: string; currency: string };
  salespersonId: string | null;
  segmentId: string;
  referralCode: string | null;
  items: { sku: string | null; name: string | null; category: string | null; quantity: number; unitPrice: string }[];
}

/** NewSale is a sale to store. */
export interface NewSale {
  source: string;
  externalId: string;
  customerId: string;
  salespersonId: string | null;
  segmentId: string;
  soldAt: Date;
  totalAmount: string;
  currency: string;
  referralCode: string | null;
  requestHash: string;
  items: { sku?: string; name: string; category?: string; quantity: number; unitPrice: string }[];
}

/** listSalesOfCustomer returns a customer's sales with items, oldest first. */
export async function listSalesOfCustomer(db: Database, customerId: string): Promise<SaleRecord[]> {
  return salesWithItems(
    db,
    await db.selectFrom('sales').selectAll().where('customerId', '=', customerId).orderBy('soldAt').execute(),
  );
}

/** findSale returns one sale with its items, or null. */
export async function findSale(db: Database, id: string): Promise<SaleRecord | null> {
  const [sale] = await salesWithItems(db, await db.selectFrom('sales').selectAll().where('id', '=', id).execute());
  return sale ?? null;
}

async function salesWithItems(db: Database, sales: Selectable<Sales>[]): Promise<SaleRecord[]> {
  if (sales.length === 0) return [];
  const items = await db
    .selectFrom('saleItems')
    .selectAll()
    .where(
      'saleId',
      'in',
      sales.map((s) => s.id),
    )
    .orderBy('id')
    .execute();
  return sales.map((s) => ({
    id: s.id,
    source: s.source,
    externalId: s.externalId,
    soldAt: s.soldAt,
    total: { amount: s.totalAmount, currency: s.currency },
    salespersonId: s.salespersonId,
    segmentId: s.segmentId,
    referralCode: s.referralCode,
    items: items
      .filter((i) => i.saleId === s.id)
      .map((i) => ({ sku: i.sku, name: i.name, category: i.category, quantity: i.quantity, unitPrice: i.unitPrice })),
  }));
}
