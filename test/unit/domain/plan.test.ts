/** computePlan and stepDueAt: the default seven-step plan in several zones, DST, leap days, send windows, backfill. */
import { computePlan, DEFAULT_GRACE_DAYS, stepDueAt, type PlanInput } from '../../../src/domain/plan';
import { DEFAULT_SEND_WINDOW } from '../../../src/domain/schedule';
import type { ContactPoints, PlanStep, PlannedTouch } from '../../../src/domain/types';
import { DEFAULT_PLAN } from './default-plan.fixture';
import { at, MON_FRI, offset, wall } from './time';

const EMAIL_CUSTOMER: ContactPoints = { email: 'ann@example.com' };

/** input builds a plan input for a sale at a local wall time; `now` defaults to the sale itself (a live sale). */
function input(zone: string, soldLocal: string, overrides: Partial<PlanInput> = {}): PlanInput {
  const soldAt = at(soldLocal, zone);
  return {
    soldAt,
    now: soldAt,
    zone,
    steps: DEFAULT_PLAN,
    sendWindow: DEFAULT_SEND_WINDOW,
    callDays: MON_FRI,
    contact: EMAIL_CUSTOMER,
    ...overrides,
  };
}

/** summary lists each touch as "step channel status local-wall-time" for compact, readable expectations. */
function summary(touches: PlannedTouch[], zone: string): string[] {
  return touches.map((t) => `${t.step} ${t.channel} ${t.status} ${wall(t.dueAt, zone)}`);
}

function mailStep(step: number, offset: PlanStep['offset']): PlanStep {
  return { step, offset, channel: 'mail', sender: 'salesperson', purpose: 'test' };
}

function callStep(step: number, offset: PlanStep['offset']): PlanStep {
  return { step, offset, channel: 'call', assignee: 'salesperson', purpose: 'test' };
}

describe('the default plan fixture', () => {
  test('has seven steps: five letters or emails and two calls, front-loaded', () => {
    expect(DEFAULT_PLAN.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(DEFAULT_PLAN.filter((s) => s.channel === 'mail')).toHaveLength(5);
    expect(DEFAULT_PLAN.filter((s) => s.channel === 'call').map((s) => s.step)).toEqual([2, 7]);
    expect(DEFAULT_PLAN.map((s) => s.offset)).toEqual([
      { days: 2 },
      { days: 7 },
      { months: 1 },
      { months: 3 },
      { months: 6 },
      { months: 9 },
      { years: 1 },
    ]);
    expect(DEFAULT_PLAN[6].assignee).toBe('executive');
  });
});

describe('computePlan: the default seven steps, as exact local wall times', () => {
  // Mail steps keep the sale's local time of day unless the send window (Mon-Fri 09:00-17:00) moves them; call steps
  // fall at 09:00 (work start) on their due day, or on the next business day when that is a weekend.
  const cases: { name: string; zone: string; sold: string; expected: string[] }[] = [
    {
      name: 'Sydney, crossing the April (AEDT to AEST) and October (AEST to AEDT) changes',
      zone: 'Australia/Sydney',
      sold: '2026-01-15T10:30', // Thursday, AEDT
      expected: [
        '1 email scheduled 2026-01-19 09:00 Mon', // Sat 17 Jan -> Monday opening
        '2 call scheduled 2026-01-22 09:00 Thu',
        '3 email scheduled 2026-02-16 09:00 Mon', // Sun 15 Feb -> Monday opening
        '4 email scheduled 2026-04-15 10:30 Wed', // now AEST: same wall time
        '5 email scheduled 2026-07-15 10:30 Wed',
        '6 email scheduled 2026-10-15 10:30 Thu', // AEDT again: same wall time
        '7 call scheduled 2027-01-15 09:00 Fri',
      ],
    },
    {
      name: 'New York, the 1-month step crossing the March change and the 9-month step the November one',
      zone: 'America/New_York',
      sold: '2026-02-20T14:00', // Friday, EST
      expected: [
        '1 email scheduled 2026-02-23 09:00 Mon', // Sun 22 Feb -> Monday
        '2 call scheduled 2026-02-27 09:00 Fri',
        '3 email scheduled 2026-03-20 14:00 Fri', // EDT, still 14:00
        '4 email scheduled 2026-05-20 14:00 Wed',
        '5 email scheduled 2026-08-20 14:00 Thu',
        '6 email scheduled 2026-11-20 14:00 Fri', // EST again
        '7 call scheduled 2027-02-22 09:00 Mon', // anniversary Sat 20 Feb -> Monday
      ],
    },
    {
      name: 'London, crossing the end of March (GMT to BST) and end of October (BST to GMT) changes',
      zone: 'Europe/London',
      sold: '2026-03-10T16:45', // Tuesday, GMT
      expected: [
        '1 email scheduled 2026-03-12 16:45 Thu',
        '2 call scheduled 2026-03-17 09:00 Tue',
        '3 email scheduled 2026-04-10 16:45 Fri', // BST
        '4 email scheduled 2026-06-10 16:45 Wed',
        '5 email scheduled 2026-09-10 16:45 Thu',
        '6 email scheduled 2026-12-10 16:45 Thu', // GMT
        '7 call scheduled 2027-03-10 09:00 Wed',
      ],
    },
    {
      name: 'Kolkata (no DST), with the 9-month step clamped from 29 to 28 February',
      zone: 'Asia/Kolkata',
      sold: '2026-05-29T11:15', // Friday
      expected: [
        '1 email scheduled 2026-06-01 09:00 Mon', // Sun 31 May -> Monday
        '2 call scheduled 2026-06-05 09:00 Fri',
        '3 email scheduled 2026-06-29 11:15 Mon',
        '4 email scheduled 2026-08-31 09:00 Mon', // Sat 29 Aug -> Monday
        '5 email scheduled 2026-11-30 09:00 Mon', // Sun 29 Nov -> Monday
        '6 email scheduled 2027-03-01 09:00 Mon', // Sun 28 Feb 2027 (clamped) -> Monday 1 March
        '7 call scheduled 2027-05-31 09:00 Mon', // Sat 29 May -> Monday
      ],
    },
    {
      name: 'UTC, a sale on the 31st: month steps clamp to the end of shorter months',
      zone: 'UTC',
      sold: '2026-08-31T13:20', // Monday
      expected: [
        '1 email scheduled 2026-09-02 13:20 Wed',
        '2 call scheduled 2026-09-07 09:00 Mon',
        '3 email scheduled 2026-09-30 13:20 Wed', // 31 Sep does not exist
        '4 email scheduled 2026-11-30 13:20 Mon', // 31 Nov does not exist
        '5 email scheduled 2027-03-01 09:00 Mon', // 28 Feb 2027 (clamped) is a Sunday -> Monday
        '6 email scheduled 2027-05-31 13:20 Mon',
        '7 call scheduled 2027-08-31 09:00 Tue',
      ],
    },
    {
      name: 'a 29 February 2028 sale (New York): anniversary on 28 February 2029',
      zone: 'America/New_York',
      sold: '2028-02-29T11:00', // Tuesday, EST
      expected: [
        '1 email scheduled 2028-03-02 11:00 Thu',
        '2 call scheduled 2028-03-07 09:00 Tue',
        '3 email scheduled 2028-03-29 11:00 Wed', // EDT since 12 March 2028
        '4 email scheduled 2028-05-29 11:00 Mon',
        '5 email scheduled 2028-08-29 11:00 Tue',
        '6 email scheduled 2028-11-29 11:00 Wed', // EST since 5 November 2028
        '7 call scheduled 2029-02-28 09:00 Wed', // 29 Feb 2029 does not exist
      ],
    },
  ];

  test.each(cases)('$name', ({ zone, sold, expected }) => {
    const touches = computePlan(input(zone, sold));
    expect(summary(touches, zone)).toEqual(expected);
  });

  test.each(cases)(
    '$name: seven distinct steps in strictly increasing time, none skipped or doubled',
    ({ zone, sold }) => {
      const touches = computePlan(input(zone, sold));
      expect(touches.map((t) => t.step)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      for (let i = 1; i < touches.length; i++) {
        expect(touches[i].dueAt.getTime()).toBeGreaterThan(touches[i - 1].dueAt.getTime());
      }
    },
  );

  test('the UTC offsets confirm the DST changes were crossed with the wall time preserved (New York)', () => {
    const zone = 'America/New_York';
    const touches = computePlan(input(zone, '2026-02-20T14:00'));
    expect(touches.map((t) => offset(t.dueAt, zone))).toEqual([
      '-05:00',
      '-05:00',
      '-04:00',
      '-04:00',
      '-04:00',
      '-05:00',
      '-05:00',
    ]);
    // 14:00 EST on 20 Feb is 19:00Z; 14:00 EDT on 20 March is 18:00Z: a 28-day step that is 1 hour "short".
    expect(touches[2].dueAt.toISOString()).toBe('2026-03-20T18:00:00.000Z');
  });

  test('the UTC offsets confirm the DST changes were crossed with the wall time preserved (Sydney)', () => {
    const zone = 'Australia/Sydney';
    const touches = computePlan(input(zone, '2026-01-15T10:30'));
    expect(touches.slice(2, 6).map((t) => offset(t.dueAt, zone))).toEqual(['+11:00', '+10:00', '+10:00', '+11:00']);
    expect(touches[3].dueAt.toISOString()).toBe('2026-04-15T00:30:00.000Z');
    expect(touches[5].dueAt.toISOString()).toBe('2026-10-14T23:30:00.000Z');
  });

  test.each([
    // A 2-day step straddling the night of the change itself: 49 or 47 real hours, the same wall time.
    { sold: '2026-04-04T15:00', step1: '2026-04-06 15:00 Mon', hours: 49, name: 'April change (clocks back)' },
    { sold: '2026-10-03T15:00', step1: '2026-10-05 15:00 Mon', hours: 47, name: 'October change (clocks forward)' },
  ])('Sydney: a 2-day step across the night of the $name keeps 15:00', ({ sold, step1, hours }) => {
    const zone = 'Australia/Sydney';
    const plan = input(zone, sold);
    const [first] = computePlan(plan);
    expect(wall(first.dueAt, zone)).toBe(step1);
    expect((first.dueAt.getTime() - plan.soldAt.getTime()) / 3_600_000).toBe(hours);
  });

  test('Sydney: the 7-day call across the October change falls on its day at 09:00 AEDT', () => {
    const zone = 'Australia/Sydney';
    const touches = computePlan(input(zone, '2026-09-28T10:30')); // Monday, AEST
    expect(wall(touches[1].dueAt, zone)).toBe('2026-10-05 09:00 Mon');
    expect(offset(touches[1].dueAt, zone)).toBe('+11:00');
  });

  test('a sale whose step would land in a spring-forward gap gets one real instant, moved into the window', () => {
    // 02:30 on Sunday 8 March 2026 does not exist in New York; the step still happens exactly once, on Monday.
    const zone = 'America/New_York';
    const touches = computePlan(input(zone, '2026-02-08T02:30', { steps: [mailStep(1, { months: 1 })] }));
    expect(summary(touches, zone)).toEqual(['1 email scheduled 2026-03-09 09:00 Mon']);
  });

  test('sender and assignee roles are carried to the touches', () => {
    const touches = computePlan(input('UTC', '2026-08-31T13:20'));
    expect(touches.map((t) => t.senderRole)).toEqual([
      'salesperson',
      'salesperson',
      'salesperson',
      'salesperson',
      'salesperson',
      'salesperson',
      'executive',
    ]);
  });

  test('steps are returned in step order, whatever order they come in, and the input is not mutated', () => {
    const shuffled = [
      DEFAULT_PLAN[6],
      DEFAULT_PLAN[0],
      DEFAULT_PLAN[3],
      DEFAULT_PLAN[1],
      DEFAULT_PLAN[5],
      DEFAULT_PLAN[2],
      DEFAULT_PLAN[4],
    ];
    const before = shuffled.map((s) => s.step);
    const touches = computePlan(input('UTC', '2026-08-31T13:20', { steps: shuffled }));
    expect(touches.map((t) => t.step)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(shuffled.map((s) => s.step)).toEqual(before);
  });
});

describe('computePlan: send windows and business days', () => {
  const zone = 'America/New_York';

  test.each([
    { name: 'a Saturday step moves to Monday 09:00', sold: '2026-03-12T11:00', due: '2026-03-16 09:00 Mon' }, // Thu + 2d = Sat
    { name: 'a Sunday step moves to Monday 09:00', sold: '2026-03-13T11:00', due: '2026-03-16 09:00 Mon' },
    {
      name: 'a step at 18:30 on a Tuesday moves to Wednesday 09:00',
      sold: '2026-03-15T18:30',
      due: '2026-03-18 09:00 Wed',
    },
    {
      name: 'a step at 07:45 on a Tuesday moves to 09:00 that day',
      sold: '2026-03-15T07:45',
      due: '2026-03-17 09:00 Tue',
    },
    {
      name: 'a step at 17:00 on a Friday (the window closes at 17:00) moves to Monday',
      sold: '2026-03-18T17:00',
      due: '2026-03-23 09:00 Mon',
    },
    { name: 'a step at 16:59 on a Friday stays', sold: '2026-03-18T16:59', due: '2026-03-20 16:59 Fri' },
    { name: 'a step at exactly 09:00 on a Monday stays', sold: '2026-03-14T09:00', due: '2026-03-16 09:00 Mon' },
  ])('$name', ({ sold, due }) => {
    const touches = computePlan(input(zone, sold, { steps: [mailStep(1, { days: 2 })] }));
    expect(summary(touches, zone)).toEqual([`1 email scheduled ${due}`]);
  });

  describe('a custom window: Tuesdays and Thursdays, 10:00 to 12:00', () => {
    const sendWindow = { days: [2, 4], start: '10:00', end: '12:00' };
    test.each([
      { nominal: '2026-03-16T11:00', due: '2026-03-17 10:00 Tue', why: 'Monday -> Tuesday opening' },
      { nominal: '2026-03-17T09:59', due: '2026-03-17 10:00 Tue', why: 'before the opening -> opening' },
      { nominal: '2026-03-17T10:00', due: '2026-03-17 10:00 Tue', why: 'at the opening -> unchanged' },
      { nominal: '2026-03-17T11:59', due: '2026-03-17 11:59 Tue', why: 'inside -> unchanged' },
      { nominal: '2026-03-17T12:00', due: '2026-03-19 10:00 Thu', why: 'at the close -> Thursday' },
      { nominal: '2026-03-18T10:30', due: '2026-03-19 10:00 Thu', why: 'Wednesday -> Thursday' },
      { nominal: '2026-03-19T15:00', due: '2026-03-24 10:00 Tue', why: 'Thursday afternoon -> next Tuesday' },
      { nominal: '2026-03-21T10:30', due: '2026-03-24 10:00 Tue', why: 'Saturday -> Tuesday' },
    ])('$why ($nominal)', ({ nominal, due }) => {
      // A zero-day step due at the moment of the sale isolates the window logic.
      const touches = computePlan(input(zone, nominal, { steps: [mailStep(1, { days: 0 })], sendWindow }));
      expect(summary(touches, zone)).toEqual([`1 email scheduled ${due}`]);
    });

    test('the default plan under it: every mail step on a Tuesday or Thursday, 10:00-12:00', () => {
      const touches = computePlan(input(zone, '2026-02-20T14:00', { sendWindow }));
      expect(summary(touches, zone)).toEqual([
        '1 email scheduled 2026-02-24 10:00 Tue',
        '2 call scheduled 2026-02-27 09:00 Fri', // calls follow callDays, not the send window
        '3 email scheduled 2026-03-24 10:00 Tue',
        '4 email scheduled 2026-05-21 10:00 Thu',
        '5 email scheduled 2026-08-25 10:00 Tue',
        '6 email scheduled 2026-11-24 10:00 Tue',
        '7 call scheduled 2027-02-22 09:00 Mon',
      ]);
    });
  });

  describe('calls', () => {
    test.each([
      { sold: '2026-03-07T15:00', due: '2026-03-16 09:00 Mon', why: 'a Saturday call -> Monday at work start' },
      { sold: '2026-03-08T15:00', due: '2026-03-16 09:00 Mon', why: 'a Sunday call -> Monday at work start' },
      { sold: '2026-03-10T15:00', due: '2026-03-17 09:00 Tue', why: 'a weekday call -> that day at work start' },
      { sold: '2026-03-10T07:00', due: '2026-03-17 09:00 Tue', why: 'an early weekday call -> that day at work start' },
    ])('$why', ({ sold, due }) => {
      const touches = computePlan(input(zone, sold, { steps: [callStep(1, { days: 7 })] }));
      expect(summary(touches, zone)).toEqual([`1 call scheduled ${due}`]);
    });

    test('custom call days and work start: a Friday call for a Monday-to-Thursday caller starting 08:30 -> Monday 08:30', () => {
      const touches = computePlan(
        input(zone, '2026-03-06T15:00', {
          steps: [callStep(1, { days: 7 })],
          callDays: [1, 2, 3, 4],
          callStart: '08:30',
        }),
      );
      expect(summary(touches, zone)).toEqual(['1 call scheduled 2026-03-16 08:30 Mon']);
    });

    test('a call needs no postal or email address', () => {
      const touches = computePlan(input(zone, '2026-03-10T15:00', { steps: [callStep(1, { days: 7 })], contact: {} }));
      expect(touches[0]).toMatchObject({ channel: 'call', status: 'scheduled' });
    });
  });
});

describe('computePlan: channels and skipped steps', () => {
  const zone = 'UTC';
  const sold = '2026-08-31T13:20';

  test('a customer who prefers letters gets letters for every mail step', () => {
    const touches = computePlan(
      input(zone, sold, {
        contact: {
          email: 'a@example.com',
          preferredChannel: 'letter',
          address: { lines: ['1 Main St'], country: 'GB' },
        },
      }),
    );
    expect(touches.map((t) => t.channel)).toEqual(['letter', 'call', 'letter', 'letter', 'letter', 'letter', 'call']);
  });

  test('no usable address: mail steps are still planned (the channel is decided again at delivery)', () => {
    const touches = computePlan(input(zone, sold, { contact: { email: 'a@example.com', emailBounced: true } }));
    expect(touches.map((t) => [t.step, t.channel, t.status, t.reason])).toEqual([
      [1, 'email', 'scheduled', undefined],
      [2, 'call', 'scheduled', undefined],
      [3, 'email', 'scheduled', undefined],
      [4, 'email', 'scheduled', undefined],
      [5, 'email', 'scheduled', undefined],
      [6, 'email', 'scheduled', undefined],
      [7, 'call', 'scheduled', undefined],
    ]);
    expect(wall(touches[0].dueAt, zone)).toBe('2026-09-02 13:20 Wed');
  });

  test('do not contact: every step, calls included, is skipped with do_not_contact', () => {
    const touches = computePlan(input(zone, sold, { contact: { email: 'a@example.com', doNotContact: true } }));
    expect(touches).toHaveLength(7);
    for (const t of touches) expect(t).toMatchObject({ status: 'skipped', reason: 'do_not_contact' });
    expect(touches.map((t) => t.channel)).toEqual(['email', 'call', 'email', 'email', 'email', 'email', 'call']);
  });
});

describe('computePlan: a backdated sale (history and late syncs)', () => {
  const zone = 'America/New_York';
  const now = at('2026-06-15T12:00', zone); // Monday, inside the send window

  test('the default grace period is 14 days', () => {
    expect(DEFAULT_GRACE_DAYS).toBe(14);
  });

  test('sold two months before now: old steps missed (at their original time), future steps unchanged', () => {
    const touches = computePlan(input(zone, '2026-04-10T10:00', { now })); // Friday
    expect(summary(touches, zone)).toEqual([
      '1 email missed 2026-04-13 09:00 Mon',
      '2 call missed 2026-04-17 09:00 Fri',
      '3 email missed 2026-05-11 09:00 Mon',
      '4 email scheduled 2026-07-10 10:00 Fri',
      '5 email scheduled 2026-10-12 09:00 Mon', // Sat 10 Oct -> Monday
      '6 email scheduled 2027-01-11 09:00 Mon', // Sun 10 Jan -> Monday
      '7 call scheduled 2027-04-12 09:00 Mon', // Sat 10 Apr -> Monday
    ]);
    for (const t of touches.filter((x) => x.status === 'missed')) expect(t.reason).toBe('past_grace_period');
  });

  test('a step due within the grace period is scheduled at now when now is inside the window', () => {
    // Sold Tue 5 May: step 3 (Fri 5 June 10:00) is 10 days before now.
    const touches = computePlan(input(zone, '2026-05-05T10:00', { now }));
    expect(summary(touches, zone)).toEqual([
      '1 email missed 2026-05-07 10:00 Thu',
      '2 call missed 2026-05-12 09:00 Tue',
      '3 email scheduled 2026-06-15 12:00 Mon',
      '4 email scheduled 2026-08-05 10:00 Wed',
      '5 email scheduled 2026-11-05 10:00 Thu',
      '6 email scheduled 2027-02-05 10:00 Fri',
      '7 call scheduled 2027-05-05 09:00 Wed',
    ]);
    expect(touches[2].dueAt.getTime()).toBe(now.getTime());
    expect(touches[2].reason).toBeUndefined();
  });

  test.each([
    { now: '2026-06-13T12:00', mail: '2026-06-15 09:00 Mon', call: '2026-06-15 09:00 Mon', why: 'now on a Saturday' },
    {
      now: '2026-06-16T20:15',
      mail: '2026-06-17 09:00 Wed',
      call: '2026-06-16 20:15 Tue',
      why: 'now on a Tuesday evening',
    },
    {
      now: '2026-06-16T07:00',
      mail: '2026-06-16 09:00 Tue',
      call: '2026-06-16 09:00 Tue',
      why: 'now early on a Tuesday',
    },
    {
      now: '2026-06-16T10:30',
      mail: '2026-06-16 10:30 Tue',
      call: '2026-06-16 10:30 Tue',
      why: 'now mid-morning on a Tuesday',
    },
  ])(
    'within grace, $why: mail at the next window opening (or now), calls on the next business day (or now)',
    ({ now: nowLocal, mail, call }) => {
      // Both steps were nominally due on Wed 10 June (within 14 days of each "now").
      const steps = [mailStep(1, { days: 2 }), callStep(2, { days: 2 })];
      const touches = computePlan(input(zone, '2026-06-08T11:00', { steps, now: at(nowLocal, zone) }));
      expect(summary(touches, zone)).toEqual([`1 email scheduled ${mail}`, `2 call scheduled ${call}`]);
    },
  );

  describe('the grace boundary (UTC, so no DST)', () => {
    const z = 'UTC';
    const nowUtc = at('2026-06-15T12:00', z);
    const steps = [mailStep(1, { days: 0 })];
    test.each([
      { sold: '2026-06-01T12:00', status: 'scheduled', why: 'exactly 14 days ago' },
      { sold: '2026-06-01T11:59', status: 'missed', why: '14 days and 1 minute ago' },
      { sold: '2026-06-15T11:59', status: 'scheduled', why: '1 minute ago' },
    ])('a step due $why is $status', ({ sold, status }) => {
      const [t] = computePlan(input(z, sold, { steps, now: nowUtc }));
      expect(t.status).toBe(status);
      if (status === 'scheduled') expect(t.dueAt.getTime()).toBe(nowUtc.getTime());
    });
  });

  describe('graceDays override', () => {
    const sold = '2026-04-10T10:00'; // steps 1-3 were due 63, 59 and 35 days before now
    test('a 40-day grace brings step 3 (35 days late) forward to now; older ones still missed', () => {
      const touches = computePlan(input(zone, sold, { now, graceDays: 40 }));
      expect(summary(touches, zone).slice(0, 4)).toEqual([
        '1 email missed 2026-04-13 09:00 Mon',
        '2 call missed 2026-04-17 09:00 Fri',
        '3 email scheduled 2026-06-15 12:00 Mon',
        '4 email scheduled 2026-07-10 10:00 Fri',
      ]);
    });

    test('a 0-day grace misses anything already past', () => {
      const touches = computePlan(
        input(zone, '2026-06-12T10:00', { now, steps: [mailStep(1, { days: 0 }), mailStep(2, { days: 3 })] }),
      );
      expect(touches.map((t) => t.status)).toEqual(['scheduled', 'scheduled']); // default grace: both within 14 days
      const strict = computePlan(
        input(zone, '2026-06-12T10:00', {
          now,
          graceDays: 0,
          steps: [mailStep(1, { days: 0 }), mailStep(2, { days: 3 })],
        }),
      );
      // Step 1 (Fri 12 June 10:00) is past; step 2 (Mon 15 June 10:00) is also two hours past.
      expect(summary(strict, zone)).toEqual([
        '1 email missed 2026-06-12 10:00 Fri',
        '2 email missed 2026-06-15 10:00 Mon',
      ]);
    });

    test('a huge grace brings every past step forward to now, none missed', () => {
      const touches = computePlan(input(zone, '2026-04-10T10:00', { now, graceDays: 3650 }));
      expect(touches.filter((t) => t.status === 'missed')).toHaveLength(0);
      expect(summary(touches, zone).slice(0, 3)).toEqual([
        '1 email scheduled 2026-06-15 12:00 Mon',
        '2 call scheduled 2026-06-15 12:00 Mon',
        '3 email scheduled 2026-06-15 12:00 Mon',
      ]);
    });
  });

  test('a no-address customer: past mail steps are missed like any other, later ones wait for an address', () => {
    const touches = computePlan(input(zone, '2026-04-10T10:00', { now, contact: {} }));
    expect(touches.map((t) => `${t.step} ${t.status} ${t.reason ?? ''}`.trim())).toEqual([
      '1 missed past_grace_period',
      '2 missed past_grace_period',
      '3 missed past_grace_period',
      '4 scheduled',
      '5 scheduled',
      '6 scheduled',
      '7 scheduled',
    ]);
  });
});

describe('stepDueAt', () => {
  const base = { zone: 'Europe/London', sendWindow: DEFAULT_SEND_WINDOW, callDays: MON_FRI };
  test.each([
    { step: mailStep(1, { days: 2 }), sold: '2026-03-27T10:00', due: '2026-03-30 09:00 Mon' }, // Sun 29th, the change day
    { step: mailStep(1, { weeks: 1 }), sold: '2026-03-25T10:00', due: '2026-04-01 10:00 Wed' },
    { step: callStep(1, { days: 1 }), sold: '2026-10-24T10:00', due: '2026-10-26 09:00 Mon' }, // Sun 25th, the change day
    { step: mailStep(1, { months: 1, days: 1 }), sold: '2026-01-31T10:00', due: '2026-03-02 09:00 Mon' }, // 28 Feb + 1 day = Sun 1 Mar
  ])('$step.channel $step.offset from $sold -> $due', ({ step, sold, due }) => {
    expect(wall(stepDueAt(step, { ...base, soldAt: at(sold, base.zone) }), base.zone)).toBe(due);
  });
});

describe('calls on the caller’s own working days', () => {
  it('puts the anniversary call on the executive’s next working day, not the salesperson’s', () => {
    // Sold Monday 2 March 2026 in UTC; the anniversary, Tuesday 2 March 2027, is a day the executive does not work.
    const zone = 'UTC';
    const base = input(zone, '2026-03-02T11:00', { now: at('2026-03-02T11:00', zone) });
    const executive = { days: [3, 4, 5, 6], start: '10:00' };
    const touches = computePlan({ ...base, callerCalendars: new Map([[7, executive]]) });
    const anniversary = touches.find((t) => t.step === 7)!;
    expect(wall(anniversary.dueAt, zone)).toBe('2027-03-03 10:00 Wed');
    const weekCall = touches.find((t) => t.step === 2)!;
    expect(wall(weekCall.dueAt, zone)).toBe('2026-03-09 09:00 Mon');
  });
});
