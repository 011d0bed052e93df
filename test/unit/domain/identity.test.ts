/** The identity rules (domain/identity.ts) and the delivery eligibility table (domain/eligibility.ts), pure. */
import { eligibility, type ContactState } from '../../../src/domain/eligibility';
import { emailKey, matchCustomer, normalizePhone, weakMatchConflict } from '../../../src/domain/identity';
import { applySaleContact, planFirstYear, UNREACHABLE_BY_MAIL } from '../../../src/domain/sale-rules';
import { DEFAULT_SEND_WINDOW } from '../../../src/domain/schedule';
import { DEFAULT_PLAN } from './default-plan.fixture';

describe('phones', () => {
  it.each(['+61 2 5550 1234', '(02) 5550 1234', '0255501234', ' 02 5550 1234 '])(
    '%s for an Australian customer is +61255501234, the text kept for display',
    (text) => {
      expect(normalizePhone(text, 'AU')).toEqual({ stored: '+61255501234', display: text.trim(), key: '+61255501234' });
    },
  );
  it('reads a national number in the default country and an international one whatever the country', () => {
    expect(normalizePhone('020 7946 0958', 'GB').key).toBe('+442079460958');
    expect(normalizePhone('+44 20 7946 0958', 'AU').key).toBe('+442079460958');
  });
  it('keeps a phone that does not parse as given, with no matching key', () => {
    expect(normalizePhone('+1 555 0001', 'AU')).toEqual({ stored: '+1 555 0001', display: '+1 555 0001', key: null });
    expect(normalizePhone('0255501234', null)).toEqual({ stored: '0255501234', display: '0255501234', key: null });
  });
});

describe('matchCustomer', () => {
  const c = (o: Partial<Parameters<typeof matchCustomer>[0][number]> & { name: string }) => ({
    source: 'till',
    externalId: null,
    email: null,
    phone: null,
    contactCorrections: {},
    ...o,
  });
  const sale = (o: Partial<Parameters<typeof matchCustomer>[1]>) => ({
    source: 'till',
    externalId: null,
    emailKey: null,
    phoneKey: null,
    ...o,
  });

  it('compares emails trimmed and case-folded', () => {
    expect(emailKey('  Ann@Example.COM ')).toBe('ann@example.com');
    const ann = c({ name: 'ann', email: 'Ann@Example.com' });
    expect(matchCustomer([ann], sale({ emailKey: 'ann@example.com' }))).toEqual({ customer: ann, by: 'email' });
  });
  it('never takes a customer of the same source who carries another externalId, by email or phone', () => {
    const ann = c({ name: 'ann', externalId: 'C-1', email: 'home@example.com', phone: '+61255501234' });
    expect(matchCustomer([ann], sale({ externalId: 'C-2', phoneKey: '+61255501234' }))).toBeNull();
    expect(matchCustomer([ann], sale({ externalId: 'C-2', emailKey: 'home@example.com' }))).toBeNull();
    // Without an externalId of its own, the sale may be hers.
    expect(matchCustomer([ann], sale({ phoneKey: '+61255501234' }))?.by).toBe('phone');
  });
  it('finds the same person through another source by email', () => {
    const ann = c({ name: 'ann', source: 'web', externalId: 'W-9', email: 'ann@example.com' });
    expect(matchCustomer([ann], sale({ externalId: 'C-1', emailKey: 'ann@example.com' }))?.customer).toBe(ann);
  });
  it('prefers the externalId, then email, then phone, then a corrected-away value, oldest first', () => {
    const byPhone = c({ name: 'p', phone: '+61255501234' });
    const byEmail = c({ name: 'e', email: 'ann@example.com' });
    const byKey = c({ name: 'k', externalId: 'C-1' });
    const s = sale({ externalId: 'C-1', emailKey: 'ann@example.com', phoneKey: '+61255501234' });
    expect(matchCustomer([byPhone, byEmail, byKey], s)?.by).toBe('external_id');
    expect(matchCustomer([byPhone, byEmail], s)?.by).toBe('email');
    expect(matchCustomer([byPhone], s)?.by).toBe('phone');
    const corrected = c({ name: 'x', contactCorrections: { email: 'digest' } });
    expect(matchCustomer([corrected], sale({ correctedEmail: 'digest' }))?.by).toBe('correction');
  });
});

describe('a weak (phone-only) match', () => {
  const found = {
    id: 'a',
    externalId: null,
    firstName: 'Ann',
    lastName: 'Lee',
    email: 'ann@example.com',
    referredBy: null,
    contactCorrections: {},
  };
  it('never overwrites the email or name: the difference is a possible duplicate', () => {
    const applied = applySaleContact(
      'secret',
      { customer: found, by: 'phone' },
      { firstName: 'Bob', email: 'bob@example.com', phone: '+61255501234', address: { lines: ['x'], country: 'AU' } },
      {},
    );
    expect(applied).toEqual({ change: {}, possibleDuplicate: { firstName: 'Bob', email: 'bob@example.com' } });
  });
  it('applies the details when it agrees about the person', () => {
    expect(weakMatchConflict(found, { firstName: ' ann ', email: 'ANN@example.com' })).toBeNull();
    const applied = applySaleContact(
      'secret',
      { customer: found, by: 'phone' },
      { firstName: 'Ann', timezone: 'Australia/Sydney' },
      {},
    );
    expect(applied.change).toEqual({ firstName: 'Ann', timezone: 'Australia/Sydney' });
  });
  it('an email match does update the email details', () => {
    const applied = applySaleContact('secret', { customer: found, by: 'email' }, { email: 'Ann@example.com' }, {});
    expect(applied.change).toEqual({ email: 'Ann@example.com' });
  });
});

describe('planFirstYear', () => {
  const base = {
    zone: 'UTC',
    segment: { plan: DEFAULT_PLAN, sendWindow: DEFAULT_SEND_WINDOW },
    salesperson: null,
    byRole: new Map(),
    graceDays: 14,
    newId: (() => {
      let i = 0;
      return () => `id-${++i}`;
    })(),
  };
  it('places a sale whose first year is over in the later years at once, its run complete', () => {
    const p = planFirstYear({
      ...base,
      soldAt: new Date('2025-01-10T10:00:00Z'),
      now: new Date('2026-11-02T10:00:00Z'),
      contact: { email: 'a@example.com' },
    });
    expect([p.runStatus, p.program]).toEqual(['completed', 'later_years']);
    expect(p.touches.every((x) => x.status === 'missed')).toBe(true);
  });
  it('warns and flags when neither a letter nor an email can reach the customer', () => {
    const p = planFirstYear({
      ...base,
      soldAt: new Date('2026-11-01T10:00:00Z'),
      now: new Date('2026-11-02T10:00:00Z'),
      contact: {},
    });
    expect([p.runStatus, p.program, p.needsCleanup]).toEqual(['active', 'first_year', true]);
    expect(p.warnings).toEqual([UNREACHABLE_BY_MAIL]);
    expect(p.touches.filter((x) => x.status !== 'scheduled')).toEqual([]);
  });
});

describe('eligibility', () => {
  const ok: ContactState = {
    erasedAt: null,
    doNotContact: false,
    paused: false,
    email: 'a@example.com',
    emailStatus: 'ok',
    emailOptOut: false,
    newsletterOptOut: false,
    address: { lines: ['1 Main St'], country: 'AU' },
    preferredChannel: null,
  };
  const table: [string, Partial<ContactState>, Record<string, string>][] = [
    ['ok', {}, { email: 'send', letter: 'reroute:email', call: 'send', newsletter: 'send' }],
    [
      'paused',
      { paused: true },
      { email: 'wait', letter: 'wait', call: 'wait', newsletter: 'skip:skipped:customer_paused' },
    ],
    [
      'email opted out',
      { emailOptOut: true },
      { email: 'reroute:letter', letter: 'send', call: 'send', newsletter: 'skip:cancelled:email_opt_out' },
    ],
    [
      'do not contact',
      { doNotContact: true },
      {
        email: 'skip:cancelled:do_not_contact',
        letter: 'skip:cancelled:do_not_contact',
        call: 'skip:cancelled:do_not_contact',
        newsletter: 'skip:cancelled:do_not_contact',
      },
    ],
    [
      'erased',
      { erasedAt: new Date() },
      {
        email: 'skip:cancelled:erased',
        letter: 'skip:cancelled:erased',
        call: 'skip:cancelled:erased',
        newsletter: 'skip:cancelled:erased',
      },
    ],
    [
      'unreachable',
      { email: null, address: null },
      {
        email: 'skip:skipped:no_address',
        letter: 'skip:skipped:no_address',
        call: 'send',
        newsletter: 'skip:skipped:no_email',
      },
    ],
  ];
  it.each(table)('%s', (_name, patch, expected) => {
    const c = { ...ok, ...patch };
    const got = Object.fromEntries(
      (['email', 'letter', 'call', 'newsletter'] as const).map((ch) => {
        const e = eligibility(c, ch);
        const s =
          e.action === 'skip'
            ? `skip:${e.status}:${e.reason}`
            : e.action === 'reroute'
              ? `reroute:${e.channel}`
              : e.action;
        return [ch, s];
      }),
    );
    expect(got).toEqual(expected);
  });
  it('sends a personal letter by post wherever a postal address is known', () => {
    expect(eligibility(ok, 'letter', { preferLetter: true })).toEqual({ action: 'send' });
  });
});
