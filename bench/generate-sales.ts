/**
 * bench/generate-sales: writes a realistic sales history of any size as CSV (the columns of docs/imports.md) or
 * NDJSON (POST /v1/sales bodies): customers with names, addresses and time zones of several countries, repeat
 * buyers, salespeople, one to three items from a catalogue of categories, sale dates spread evenly (in order) over
 * the three years before --now, and optionally a share of bad rows of every kind. Deterministic for a given --seed.
 *
 *   npm run generate:sales -- --count 1000000 --format csv --out /tmp/sales.csv [--bad-rate 0.001] [--seed 1]
 *                              [--now 2026-11-02T10:00:00Z] [--years 3] [--source shop-pos]
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { CSV_COLUMNS } from '../src/services/import-format';

/** GeneratorOptions choose what to write. */
export interface GeneratorOptions {
  count: number;
  format: 'csv' | 'ndjson';
  out: string;
  badRate: number;
  seed: number;
  now: Date;
  years: number;
  source: string;
}

/** mulberry32 is a small, fast, seeded pseudo-random generator (not for secrets). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = [
  'Ann',
  'Ben',
  'Chloe',
  'David',
  'Emma',
  'Farid',
  'Grace',
  'Hiro',
  'Isla',
  'Jack',
  'Kate',
  'Liam',
  'Mia',
  'Noah',
  'Olivia',
  'Priya',
  'Quinn',
  'Ruby',
  'Sam',
  'Tom',
  'Uma',
  'Victor',
  'Wei',
  'Xavier',
  'Yara',
  'Zoe',
  'Amelia',
  'Lucas',
  'Sofia',
  'Mateo',
  'Aisha',
  'Oscar',
];
const LAST = [
  'Lee',
  'Smith',
  'Nguyen',
  'Brown',
  'Wilson',
  'Taylor',
  'Martin',
  'Garcia',
  'Khan',
  'Müller',
  'Rossi',
  "O'Brien",
  'Tanaka',
  'Singh',
  'Kowalski',
  'Dubois',
  'Jones',
  'Chen',
  'Silva',
  'Novak',
  'Walker',
  'Hughes',
  'Patel',
  'Kim',
];
const STREETS = [
  'Main St',
  'High St',
  'George St',
  'Station Rd',
  'Church Lane',
  'Park Ave',
  'King St',
  'Queen St',
  'Elm Grove',
  'Harbour Rd',
  'Mill Lane',
  'Victoria Pde',
];

interface Zone {
  tz: string;
  country: string;
  currency: string;
  cities: { city: string; region: string; postcode: () => string }[];
  phone: () => string;
}

/** ZONES are the places customers live, each with its zone, cities, postcodes, phone numbers and currency. */
function zones(rnd: () => number): Zone[] {
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 10)).join('');
  return [
    {
      tz: 'Australia/Sydney',
      country: 'AU',
      currency: 'AUD',
      cities: [
        { city: 'Sydney', region: 'NSW', postcode: () => `2${digits(3)}` },
        { city: 'Newcastle', region: 'NSW', postcode: () => `22${digits(2)}` },
      ],
      phone: () => `+61 2 ${digits(4)} ${digits(4)}`,
    },
    {
      tz: 'Australia/Melbourne',
      country: 'AU',
      currency: 'AUD',
      cities: [{ city: 'Melbourne', region: 'VIC', postcode: () => `3${digits(3)}` }],
      phone: () => `+61 3 ${digits(4)} ${digits(4)}`,
    },
    {
      tz: 'Australia/Perth',
      country: 'AU',
      currency: 'AUD',
      cities: [{ city: 'Perth', region: 'WA', postcode: () => `6${digits(3)}` }],
      phone: () => `+61 8 ${digits(4)} ${digits(4)}`,
    },
    {
      tz: 'Pacific/Auckland',
      country: 'NZ',
      currency: 'NZD',
      cities: [{ city: 'Auckland', region: 'AUK', postcode: () => `10${digits(2)}` }],
      phone: () => `+64 9 ${digits(3)} ${digits(4)}`,
    },
    {
      tz: 'America/New_York',
      country: 'US',
      currency: 'USD',
      cities: [
        { city: 'New York', region: 'NY', postcode: () => `100${digits(2)}` },
        { city: 'Boston', region: 'MA', postcode: () => `021${digits(2)}` },
      ],
      phone: () => `+1 212 ${digits(3)} ${digits(4)}`,
    },
    {
      tz: 'America/Chicago',
      country: 'US',
      currency: 'USD',
      cities: [{ city: 'Chicago', region: 'IL', postcode: () => `606${digits(2)}` }],
      phone: () => `+1 312 ${digits(3)} ${digits(4)}`,
    },
    {
      tz: 'America/Los_Angeles',
      country: 'US',
      currency: 'USD',
      cities: [{ city: 'Los Angeles', region: 'CA', postcode: () => `900${digits(2)}` }],
      phone: () => `+1 213 ${digits(3)} ${digits(4)}`,
    },
    {
      tz: 'Europe/London',
      country: 'GB',
      currency: 'GBP',
      cities: [{ city: 'London', region: 'LND', postcode: () => `SW${digits(1)} ${digits(1)}AB` }],
      phone: () => `+44 20 ${digits(4)} ${digits(4)}`,
    },
    {
      tz: 'Europe/Berlin',
      country: 'DE',
      currency: 'EUR',
      cities: [{ city: 'Berlin', region: 'BE', postcode: () => `10${digits(3)}` }],
      phone: () => `+49 30 ${digits(8)}`,
    },
  ];
}

const CATALOGUE: { category: string; items: [string, string, number][] }[] = [
  {
    category: 'furniture',
    items: [
      ['SOFA-3', '3-seat sofa', 1299],
      ['TBL-OAK', 'Oak dining table', 899],
      ['CHR-ARM', 'Armchair', 549],
      ['BED-Q', 'Queen bed frame', 1099],
    ],
  },
  {
    category: 'appliances',
    items: [
      ['FRG-450', '450 L fridge', 1499],
      ['WM-8', '8 kg washing machine', 799],
      ['DW-14', 'Dishwasher', 699],
    ],
  },
  {
    category: 'electronics',
    items: [
      ['TV-65', '65" television', 1899],
      ['SB-2', 'Sound bar', 349],
      ['LAP-14', '14" laptop', 1299],
    ],
  },
  {
    category: 'bedding',
    items: [
      ['MAT-Q', 'Queen mattress', 999],
      ['PIL-2', 'Pillow pair', 89],
      ['QLT-W', 'Wool quilt', 249],
    ],
  },
  {
    category: 'garden',
    items: [
      ['BBQ-4', '4-burner barbecue', 649],
      ['MWR-E', 'Electric mower', 429],
      ['SET-OUT', 'Outdoor setting', 1199],
    ],
  },
];

interface Customer {
  id: string;
  first: string;
  last: string;
  email?: string;
  phone?: string;
  zone: Zone;
  address?: { lines: string[]; city: string; region: string; postalCode: string; country: string };
  preferred?: 'email' | 'letter';
}

function csvField(v: string | number | undefined): string {
  if (v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function money(n: number): string {
  return n.toFixed(2);
}

/** accounting writes an amount the way accounting exports do, sometimes with thousands separators or a symbol. */
function accounting(n: number, rnd: () => number): string {
  const plain = money(n);
  const r = rnd();
  if (r < 0.5) return plain;
  const grouped = plain.replace(/\B(?=(\d{3})+(?!\d))/, ',');
  return r < 0.8 ? grouped : `$${grouped}`;
}

async function write(out: WriteStream, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', resolve));
}

/** generateSales writes the file and returns how many sales and bad rows it holds. */
export async function generateSales(o: GeneratorOptions): Promise<{ sales: number; bad: number }> {
  const rnd = mulberry32(o.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)];
  const places = zones(rnd);
  const salespeople = Array.from({ length: Math.max(3, Math.min(200, Math.ceil(o.count / 5000))) }, (_, i) => {
    const first = pick(FIRST);
    const last = pick(LAST).replace(/[^A-Za-z]/g, '');
    return { email: `${first.toLowerCase()}.${last.toLowerCase()}.${i}@shop.example`, name: `${first} ${last}` };
  });
  // About a third of sales are by returning customers; recent customers are likelier to buy again. Only the most
  // recent RECENT customers are kept, so memory stays flat however large the file.
  const RECENT = 50_000;
  const customers: Customer[] = [];
  let created = 0;
  const newCustomer = (): Customer => {
    const n = ++created;
    const first = pick(FIRST);
    const last = pick(LAST);
    const zone = pick(places);
    const city = pick(zone.cities);
    const hasEmail = rnd() < 0.85;
    const hasAddress = !hasEmail || rnd() < 0.7;
    const c: Customer = {
      id: `C-${n}`,
      first,
      last,
      email: hasEmail ? `${first}.${last}.${n}@example.com`.toLowerCase().replace(/[^a-z0-9.@]/g, '') : undefined,
      phone: rnd() < 0.8 ? zone.phone() : undefined,
      zone,
      address: hasAddress
        ? {
            lines: [`${1 + Math.floor(rnd() * 300)} ${pick(STREETS)}`],
            city: city.city,
            region: city.region,
            postalCode: city.postcode(),
            country: zone.country,
          }
        : undefined,
      preferred: rnd() < 0.1 ? 'letter' : undefined,
    };
    customers.push(c);
    if (customers.length > 2 * RECENT) customers.splice(0, RECENT);
    return c;
  };
  const out = createWriteStream(o.out, { highWaterMark: 1024 * 1024 });
  if (o.format === 'csv') await write(out, `${CSV_COLUMNS.join(',')}\n`);
  const span = o.years * 365.25 * 86_400_000;
  const start = o.now.getTime() - span;
  let bad = 0;
  // Earlier good ids, for the reused-id bad row: not the one just before, which in CSV would read as another item.
  const goodIds: string[] = [];
  for (let i = 0; i < o.count; i++) {
    const soldAt = new Date(start + ((i + rnd()) / o.count) * (span - 3_600_000));
    const customer =
      customers.length > 10 && rnd() < 0.33
        ? customers[customers.length - 1 - Math.floor(Math.pow(rnd(), 2) * Math.min(customers.length, RECENT))]
        : newCustomer();
    const lines = 1 + (rnd() < 0.25 ? 1 : 0) + (rnd() < 0.08 ? 1 : 0);
    const items = Array.from({ length: lines }, () => {
      const group = pick(CATALOGUE);
      const [sku, name, price] = pick(group.items);
      return { sku, name, category: group.category, quantity: rnd() < 0.9 ? 1 : 2, unitPrice: price };
    });
    const total = items.reduce((s, it) => s + it.quantity * it.unitPrice, 0);
    const salesperson = pick(salespeople);
    const sale = {
      externalId: `INV-${String(i + 1).padStart(8, '0')}`,
      source: o.source,
      soldAt: soldAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      total: { amount: money(total), currency: customer.zone.currency },
      items: items.map((it) => ({
        sku: it.sku,
        name: it.name,
        category: it.category,
        quantity: it.quantity,
        unitPrice: money(it.unitPrice),
      })),
      customer: {
        externalId: customer.id,
        firstName: customer.first,
        lastName: customer.last,
        ...(customer.email ? { email: customer.email } : {}),
        ...(customer.phone ? { phone: customer.phone } : {}),
        timezone: customer.zone.tz,
        ...(customer.preferred ? { preferredChannel: customer.preferred } : {}),
        ...(customer.address ? { address: customer.address } : {}),
      },
      salesperson,
    };
    // Bad rows, each kind in turn: a bad date, a negative amount, a bad email, an unknown zone, a missing name,
    // an id reused with another body, and a line the reader cannot parse.
    const kind = o.badRate > 0 && rnd() < o.badRate ? bad++ % 7 : -1;
    if (kind === 0) sale.soldAt = '31/13/2024';
    if (kind === 1) sale.total.amount = '-12.00';
    if (kind === 2) sale.customer.email = 'not-an-email';
    if (kind === 3) sale.customer.timezone = 'Mars/Olympus_Mons';
    if (kind === 4) (sale.customer as { firstName?: string }).firstName = undefined;
    if (kind === 5 && goodIds.length >= 2) sale.externalId = goodIds[0];
    if (o.format === 'ndjson') {
      await write(out, kind === 6 ? `{"externalId": "${sale.externalId}", "broken\n` : `${JSON.stringify(sale)}\n`);
    } else {
      for (const [n, it] of sale.items.entries()) {
        const row = [
          sale.externalId,
          sale.source,
          kind === 0 ? sale.soldAt : n === 0 ? soldAt.toISOString().replace(/\.\d{3}Z$/, 'Z') : '',
          n === 0 ? (kind === 1 ? `(${accounting(12, rnd)})` : accounting(total, rnd)) : '',
          sale.total.currency,
          customer.id,
          sale.customer.firstName,
          customer.last,
          sale.customer.email,
          customer.phone,
          sale.customer.timezone,
          customer.preferred,
          customer.address?.lines[0],
          '',
          customer.address?.city,
          customer.address?.region,
          customer.address?.postalCode,
          customer.address?.country,
          salesperson.email,
          salesperson.name,
          it.sku,
          it.name,
          it.category,
          it.quantity,
          accounting(Number(it.unitPrice), rnd),
          '',
        ];
        const text =
          kind === 6 && n === 0
            ? `${sale.externalId},"unterminated,${sale.source}\n`
            : `${row.map(csvField).join(',')}\n`;
        await write(out, text);
        if (kind === 6) break;
      }
    }
    if (kind < 0) {
      goodIds.push(sale.externalId);
      if (goodIds.length > 20) goodIds.shift();
    }
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { sales: o.count, bad };
}

function parseArgs(argv: string[]): GeneratorOptions {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument ${argv[i]}`);
    const [k, inline] = argv[i].slice(2).split('=', 2);
    flags[k] = inline ?? argv[++i];
  }
  const format = flags.format ?? (flags.out?.endsWith('.ndjson') ? 'ndjson' : 'csv');
  if (format !== 'csv' && format !== 'ndjson') throw new Error('--format must be csv or ndjson');
  if (!flags.out) throw new Error('--out FILE is required');
  return {
    count: Number(flags.count ?? 1000),
    format,
    out: flags.out,
    badRate: Number(flags['bad-rate'] ?? 0),
    seed: Number(flags.seed ?? 1),
    now: new Date(flags.now ?? '2026-11-02T10:00:00Z'),
    years: Number(flags.years ?? 3),
    source: flags.source ?? 'shop-pos',
  };
}

if (require.main === module) {
  const o = parseArgs(process.argv.slice(2));
  generateSales(o)
    .then((r) => process.stderr.write(`wrote ${r.sales} sales (${r.bad} bad) to ${o.out}\n`))
    .catch((err) => {
      process.stderr.write(`generate-sales: ${(err as Error).message}\n`);
      process.exit(1);
    });
}
