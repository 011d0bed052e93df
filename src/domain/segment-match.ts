/** Placing a sale in a segment: the first segment by priority whose rules all hold, else the default. Pure. */
import type { Segment, SegmentMatch } from './types';

/** SaleFacts is what segment rules can look at. */
export interface SaleFacts {
  source: string;
  totalAmount: string;
  items: { sku?: string | null; category?: string | null }[];
}

function cents(amount: string): number {
  return Math.round(Number(amount) * 100);
}

/** matchesRules tells whether a sale meets every rule given; an empty rule set never matches (only the default does). */
export function matchesRules(match: SegmentMatch, sale: SaleFacts): boolean {
  const checks: boolean[] = [];
  if (match.categories?.length) {
    const wanted = new Set(match.categories.map((c) => c.toLowerCase()));
    checks.push(sale.items.some((i) => i.category != null && wanted.has(i.category.toLowerCase())));
  }
  if (match.skus?.length) {
    const wanted = new Set(match.skus);
    checks.push(sale.items.some((i) => i.sku != null && wanted.has(i.sku)));
  }
  if (match.sources?.length) checks.push(match.sources.includes(sale.source));
  if (match.minTotal != null) checks.push(cents(sale.totalAmount) >= cents(match.minTotal));
  if (match.maxTotal != null) checks.push(cents(sale.totalAmount) <= cents(match.maxTotal));
  return checks.length > 0 && checks.every(Boolean);
}

/** chooseSegment returns the first non-default segment (lowest priority number first, then name) that matches, else the default. */
export function chooseSegment<S extends Pick<Segment, 'name' | 'priority' | 'isDefault' | 'match'>>(
  segments: S[],
  sale: SaleFacts,
): S {
  const ordered = segments
    .filter((s) => !s.isDefault)
    .sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name));
  const found = ordered.find((s) => matchesRules(s.match, sale)) ?? segments.find((s) => s.isDefault);
  if (!found) throw new Error('no default segment');
  return found;
}
