/** matchesRules and chooseSegment: placing a sale in exactly one segment. */
import { chooseSegment, matchesRules, type SaleFacts } from '../../../src/domain/segment-match';
import type { SegmentMatch } from '../../../src/domain/types';

function sale(overrides: Partial<SaleFacts> = {}): SaleFacts {
  return {
    source: 'shop-pos',
    totalAmount: '1299.00',
    items: [{ sku: 'SOFA-3', category: 'furniture' }],
    ...overrides,
  };
}

describe('matchesRules', () => {
  describe('categories (any item, any listed, case-insensitive)', () => {
    test.each([
      { match: { categories: ['furniture'] }, items: [{ category: 'furniture' }], expected: true },
      { match: { categories: ['Furniture'] }, items: [{ category: 'FURNITURE' }], expected: true },
      { match: { categories: ['FURNITURE'] }, items: [{ category: 'furniture' }], expected: true },
      { match: { categories: ['lighting', 'rugs'] }, items: [{ category: 'Rugs' }], expected: true },
      {
        match: { categories: ['lighting'] },
        items: [{ category: 'furniture' }, { category: 'Lighting' }],
        expected: true,
      },
      { match: { categories: ['lighting'] }, items: [{ category: 'furniture' }], expected: false },
      { match: { categories: ['lighting'] }, items: [{ category: null }, { sku: 'X' }], expected: false },
      { match: { categories: ['lighting'] }, items: [], expected: false },
      { match: { categories: ['light'] }, items: [{ category: 'lighting' }], expected: false }, // no substring matching
    ])('$match.categories vs $items: $expected', ({ match, items, expected }) => {
      expect(matchesRules(match, sale({ items }))).toBe(expected);
    });
  });

  describe('skus (any item, any listed, exact)', () => {
    test.each([
      { skus: ['SOFA-3'], items: [{ sku: 'SOFA-3' }], expected: true },
      { skus: ['CHAIR-1', 'SOFA-3'], items: [{ sku: 'LAMP' }, { sku: 'SOFA-3' }], expected: true },
      { skus: ['SOFA-2'], items: [{ sku: 'SOFA-3' }], expected: false },
      { skus: ['SOFA-3'], items: [{ sku: null }, { category: 'furniture' }], expected: false },
      { skus: ['SOFA'], items: [{ sku: 'SOFA-3' }], expected: false },
    ])('$skus vs $items: $expected', ({ skus, items, expected }) => {
      expect(matchesRules({ skus }, sale({ items }))).toBe(expected);
    });
  });

  describe('minTotal and maxTotal (inclusive, compared in cents)', () => {
    test.each([
      { match: { minTotal: '1000.00' }, total: '1000.00', expected: true },
      { match: { minTotal: '1000.00' }, total: '999.99', expected: false },
      { match: { minTotal: '1000.00' }, total: '1000.01', expected: true },
      { match: { minTotal: '1000' }, total: '1000.00', expected: true },
      { match: { maxTotal: '999.99' }, total: '999.99', expected: true },
      { match: { maxTotal: '999.99' }, total: '1000.00', expected: false },
      { match: { maxTotal: '1000.00' }, total: '999.99', expected: true },
      { match: { minTotal: '100.00', maxTotal: '999.99' }, total: '100.00', expected: true },
      { match: { minTotal: '100.00', maxTotal: '999.99' }, total: '99.99', expected: false },
      { match: { minTotal: '100.00', maxTotal: '999.99' }, total: '1000.00', expected: false },
      { match: { minTotal: '0.30' }, total: '0.30', expected: true }, // 0.1 + 0.2 style float traps are avoided
      { match: { maxTotal: '0.29' }, total: '0.29', expected: true },
      { match: { minTotal: '0' }, total: '0.00', expected: true },
      { match: { minTotal: '0.00' }, total: '0', expected: true },
    ])('$match with total $total: $expected', ({ match, total, expected }) => {
      expect(matchesRules(match, sale({ totalAmount: total }))).toBe(expected);
    });
  });

  describe('sources (exact)', () => {
    test.each([
      { sources: ['shop-pos'], source: 'shop-pos', expected: true },
      { sources: ['web', 'shop-pos'], source: 'shop-pos', expected: true },
      { sources: ['web'], source: 'shop-pos', expected: false },
    ])('$sources vs $source: $expected', ({ sources, source, expected }) => {
      expect(matchesRules({ sources }, sale({ source }))).toBe(expected);
    });
  });

  test('every rule given must hold', () => {
    const match: SegmentMatch = { categories: ['furniture'], minTotal: '1000.00', sources: ['shop-pos'] };
    expect(matchesRules(match, sale())).toBe(true);
    expect(matchesRules(match, sale({ totalAmount: '999.99' }))).toBe(false);
    expect(matchesRules(match, sale({ source: 'web' }))).toBe(false);
    expect(matchesRules(match, sale({ items: [{ sku: 'SOFA-3', category: 'lighting' }] }))).toBe(false);
    expect(matchesRules({ ...match, skus: ['SOFA-3'] }, sale())).toBe(true);
    expect(matchesRules({ ...match, skus: ['CHAIR-1'] }, sale())).toBe(false);
  });

  test.each<[string, SegmentMatch]>([
    ['{}', {}],
    ['empty lists', { categories: [], skus: [], sources: [] }],
    ['undefined members', { categories: undefined, minTotal: undefined }],
  ])('an empty rule set (%s) never matches', (_name, match) => {
    expect(matchesRules(match, sale())).toBe(false);
    expect(matchesRules(match, sale({ items: [], totalAmount: '0.00', source: '' }))).toBe(false);
  });

  test('empty lists are ignored next to a real rule', () => {
    expect(matchesRules({ categories: [], minTotal: '100.00' }, sale())).toBe(true);
  });
});

describe('chooseSegment', () => {
  type Seg = { id: string; name: string; priority: number; isDefault: boolean; match: SegmentMatch };
  const DEFAULT: Seg = { id: 'd', name: 'default', priority: 1_000_000, isDefault: true, match: {} };
  const BIG: Seg = { id: 'big', name: 'big spenders', priority: 10, isDefault: false, match: { minTotal: '1000.00' } };
  const FURNITURE: Seg = {
    id: 'furn',
    name: 'furniture',
    priority: 20,
    isDefault: false,
    match: { categories: ['Furniture'] },
  };
  const LIGHTING: Seg = {
    id: 'light',
    name: 'lighting',
    priority: 5,
    isDefault: false,
    match: { categories: ['lighting'] },
  };
  const EMPTY: Seg = { id: 'empty', name: 'empty rules', priority: 0, isDefault: false, match: {} };

  test('the first match by priority (lowest number first) wins, whatever the list order', () => {
    const segments = [DEFAULT, FURNITURE, LIGHTING, BIG];
    expect(chooseSegment(segments, sale()).id).toBe('big'); // matches big (10) and furniture (20)
    expect(chooseSegment([...segments].reverse(), sale()).id).toBe('big');
    expect(chooseSegment(segments, sale({ totalAmount: '999.99' })).id).toBe('furn');
    expect(chooseSegment(segments, sale({ items: [{ category: 'Lighting' }, { category: 'furniture' }] })).id).toBe(
      'light',
    );
  });

  test('equal priorities are broken by name', () => {
    const b: Seg = { id: 'b', name: 'bravo', priority: 7, isDefault: false, match: { sources: ['shop-pos'] } };
    const a: Seg = { id: 'a', name: 'alpha', priority: 7, isDefault: false, match: { sources: ['shop-pos'] } };
    expect(chooseSegment([DEFAULT, b, a], sale()).id).toBe('a');
    expect(chooseSegment([DEFAULT, a, b], sale()).id).toBe('a');
  });

  test('falls back to the default segment when nothing matches', () => {
    expect(chooseSegment([BIG, DEFAULT, LIGHTING], sale({ totalAmount: '10.00' })).id).toBe('d');
  });

  test('a segment with an empty rule set never catches a sale, even at the top priority', () => {
    expect(chooseSegment([EMPTY, DEFAULT], sale()).id).toBe('d');
    expect(chooseSegment([EMPTY, BIG, DEFAULT], sale()).id).toBe('big');
  });

  test('the default segment is chosen only as the fallback, even if its own rules would match first', () => {
    const greedyDefault: Seg = { ...DEFAULT, priority: 0, match: { sources: ['shop-pos'] } };
    expect(chooseSegment([greedyDefault, FURNITURE], sale()).id).toBe('furn');
  });

  test('throws when nothing matches and there is no default', () => {
    expect(() => chooseSegment([BIG, LIGHTING], sale({ totalAmount: '1.00' }))).toThrow(/no default segment/);
  });

  test('returns the caller\u2019s own object and does not reorder the input', () => {
    const segments = [DEFAULT, FURNITURE, LIGHTING, BIG];
    const ids = segments.map((s) => s.id);
    expect(chooseSegment(segments, sale())).toBe(BIG);
    expect(segments.map((s) => s.id)).toEqual(ids);
  });
});
