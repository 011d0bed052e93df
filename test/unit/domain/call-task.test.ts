/** The pure rules of call tasks: assignee choice, due and retry dates, escalation, outcome effects, due filters. */
import {
  chooseAssignee,
  chooseManager,
  dueRange,
  outcomeEffect,
  parseDueFilter,
  retryDueAt,
  shouldEscalate,
  taskDueAt,
  type Fallbacks,
  type Person,
} from '../../../src/domain/call-task';

function people(...list: Person[]): Map<string, Person> {
  return new Map(list.map((p) => [p.id, p]));
}
const boss: Person = { id: 'boss', role: 'manager', managerId: null, active: true };
const mgr: Person = { id: 'mgr', role: 'manager', managerId: 'boss', active: true };
const sam: Person = { id: 'sam', role: 'salesperson', managerId: 'mgr', active: true };
const exec: Person = { id: 'exec', role: 'executive', managerId: null, active: true };
const firstMgr: Person = { id: 'first-mgr', role: 'manager', managerId: null, active: true };
const anyone: Person = { id: 'anyone', role: 'salesperson', managerId: null, active: true };
const FALLBACKS: Fallbacks = { executive: exec, manager: firstMgr, anyone };
const NONE: Fallbacks = { executive: null, manager: null, anyone: null };

describe('chooseAssignee', () => {
  const base = { stepRole: 'salesperson' as const, preferredId: 'sam', salespersonId: 'sam' };

  it('gives the call to the active salesperson', () => {
    expect(chooseAssignee({ ...base, people: people(sam, mgr, boss), fallbacks: FALLBACKS })).toEqual({
      assigneeId: 'sam',
      rule: 'assigned',
    });
  });

  it('gives the call of a salesperson who left to their manager', () => {
    const left = { ...sam, active: false };
    expect(chooseAssignee({ ...base, people: people(left, mgr, boss), fallbacks: FALLBACKS })).toEqual({
      assigneeId: 'mgr',
      rule: 'manager_of_inactive',
    });
  });

  it('goes further up the chain when the manager left too', () => {
    const left = { ...sam, active: false };
    expect(
      chooseAssignee({ ...base, people: people(left, { ...mgr, active: false }, boss), fallbacks: FALLBACKS })
        .assigneeId,
    ).toBe('boss');
  });

  it('falls back to the first active manager, then anyone, then nobody', () => {
    const loner = { ...sam, managerId: null, active: false };
    expect(chooseAssignee({ ...base, people: people(loner), fallbacks: FALLBACKS })).toEqual({
      assigneeId: 'first-mgr',
      rule: 'default_manager',
    });
    expect(chooseAssignee({ ...base, people: people(loner), fallbacks: { ...FALLBACKS, manager: null } })).toEqual({
      assigneeId: 'anyone',
      rule: 'default_staff',
    });
    expect(chooseAssignee({ ...base, people: people(loner), fallbacks: NONE })).toEqual({
      assigneeId: null,
      rule: 'unassigned',
    });
  });

  it('survives a manager cycle typed into the data', () => {
    const a: Person = { id: 'a', role: 'salesperson', managerId: 'b', active: false };
    const b: Person = { id: 'b', role: 'manager', managerId: 'a', active: false };
    expect(chooseAssignee({ ...base, preferredId: 'a', people: people(a, b), fallbacks: FALLBACKS }).assigneeId).toBe(
      'first-mgr',
    );
  });

  it('gives the anniversary call to the named executive, else the first executive, else the salesperson', () => {
    const other: Person = { id: 'exec-2', role: 'executive', managerId: null, active: true };
    const exe = { stepRole: 'executive' as const, salespersonId: 'sam' };
    expect(chooseAssignee({ ...exe, preferredId: 'exec-2', people: people(other, sam), fallbacks: FALLBACKS })).toEqual(
      { assigneeId: 'exec-2', rule: 'assigned' },
    );
    expect(
      chooseAssignee({
        ...exe,
        preferredId: 'exec-2',
        people: people({ ...other, active: false }, sam),
        fallbacks: FALLBACKS,
      }),
    ).toEqual({ assigneeId: 'exec', rule: 'executive' });
    // No executive at all: the salesperson (whose id the touch carried when the sale was planned).
    expect(
      chooseAssignee({ ...exe, preferredId: 'sam', people: people(sam), fallbacks: { ...FALLBACKS, executive: null } }),
    ).toEqual({ assigneeId: 'sam', rule: 'assigned' });
    expect(
      chooseAssignee({
        ...exe,
        preferredId: null,
        people: people({ ...sam, active: false }, mgr),
        fallbacks: { ...FALLBACKS, executive: null },
      }).assigneeId,
    ).toBe('mgr');
  });
});

describe('chooseManager', () => {
  it('is the first active manager up the chain, never the person themselves', () => {
    expect(chooseManager('sam', people(sam, mgr, boss), FALLBACKS)).toBe('mgr');
    expect(chooseManager('sam', people(sam, { ...mgr, active: false }, boss), FALLBACKS)).toBe('boss');
    expect(chooseManager('first-mgr', people(firstMgr), FALLBACKS)).toBe('anyone');
    expect(chooseManager('anyone', people(anyone), { ...FALLBACKS, manager: null })).toBeNull();
    expect(chooseManager(null, people(), FALLBACKS)).toBe('first-mgr');
  });
});

const UTC = { zone: 'UTC', days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' };

describe('taskDueAt and retryDueAt', () => {
  it('keeps a call on a working day and moves one on a day off to the next working morning', () => {
    const tuesday = new Date('2026-11-10T13:00:00Z');
    expect(taskDueAt(tuesday, UTC)).toEqual(tuesday);
    expect(taskDueAt(new Date('2026-11-14T10:00:00Z'), UTC)).toEqual(new Date('2026-11-16T09:00:00Z')); // Saturday -> Monday
  });

  it('tries again at the start of work two business days later, skipping the weekend', () => {
    expect(retryDueAt(new Date('2026-11-10T15:00:00Z'), UTC)).toEqual(new Date('2026-11-12T09:00:00Z')); // Tue -> Thu
    expect(retryDueAt(new Date('2026-11-12T15:00:00Z'), UTC)).toEqual(new Date('2026-11-16T09:00:00Z')); // Thu -> Mon
    expect(retryDueAt(new Date('2026-11-13T15:00:00Z'), UTC)).toEqual(new Date('2026-11-17T09:00:00Z')); // Fri -> Tue
  });

  it('counts in the assignee zone and working days', () => {
    // 23:30 UTC Tuesday is already Wednesday in Sydney; a Sunday-to-Thursday week there.
    const syd = { zone: 'Australia/Sydney', days: [7, 1, 2, 3, 4], start: '08:30', end: '16:30' };
    // Wed (Sydney) + 2 business days of Sun-Thu = Sun 15 Nov 08:30 AEDT = Sat 14 Nov 21:30 UTC.
    expect(retryDueAt(new Date('2026-11-10T23:30:00Z'), syd)).toEqual(new Date('2026-11-14T21:30:00Z'));
  });
});

describe('shouldEscalate', () => {
  it('escalates after three business days overdue, not before', () => {
    const due = new Date('2026-11-09T09:00:00Z'); // Monday
    expect(shouldEscalate(due, new Date('2026-11-11T16:00:00Z'), UTC)).toBe(false); // Wed: 2
    expect(shouldEscalate(due, new Date('2026-11-12T08:00:00Z'), UTC)).toBe(true); // Thu: 3
  });

  it('does not count the weekend', () => {
    const friday = new Date('2026-11-13T09:00:00Z');
    expect(shouldEscalate(friday, new Date('2026-11-17T20:00:00Z'), UTC)).toBe(false); // Mon, Tue
    expect(shouldEscalate(friday, new Date('2026-11-18T00:30:00Z'), UTC)).toBe(true); // Wed
  });

  it('never escalates a task not yet due', () => {
    expect(shouldEscalate(new Date('2026-11-20T09:00:00Z'), new Date('2026-11-09T09:00:00Z'), UTC)).toBe(false);
  });
});

describe('outcomeEffect', () => {
  it('closes the touch on reached and voicemail', () => {
    expect(outcomeEffect('reached', 1)).toEqual({
      touch: { status: 'done', reason: 'reached' },
      retryAttempt: null,
      flagPhone: false,
      complaint: false,
    });
    expect(outcomeEffect('voicemail', 2).touch).toEqual({ status: 'done', reason: 'voicemail' });
  });

  it('retries no_answer up to three attempts, then fails the touch', () => {
    expect(outcomeEffect('no_answer', 1)).toMatchObject({ touch: null, retryAttempt: 2 });
    expect(outcomeEffect('no_answer', 2)).toMatchObject({ touch: null, retryAttempt: 3 });
    expect(outcomeEffect('no_answer', 3)).toMatchObject({
      touch: { status: 'failed', reason: 'no_answer' },
      retryAttempt: null,
    });
  });

  it('fails a wrong number and flags the phone; a complaint pauses', () => {
    expect(outcomeEffect('wrong_number', 1)).toEqual({
      touch: { status: 'failed', reason: 'wrong_number' },
      retryAttempt: null,
      flagPhone: true,
      complaint: false,
    });
    expect(outcomeEffect('complaint', 1)).toEqual({
      touch: { status: 'done', reason: 'complaint' },
      retryAttempt: null,
      flagPhone: false,
      complaint: true,
    });
  });
});

describe('due filters', () => {
  const now = new Date('2026-11-10T10:00:00Z');

  it('parses today, overdue and dates, and rejects the rest', () => {
    expect(parseDueFilter('today')).toEqual({ kind: 'today' });
    expect(parseDueFilter('overdue')).toEqual({ kind: 'overdue' });
    expect(parseDueFilter('2026-11-12')).toEqual({ kind: 'date', date: '2026-11-12' });
    expect(parseDueFilter('2026-13-40')).toBeNull();
    expect(parseDueFilter('tomorrow')).toBeNull();
  });

  it('reads the day in the given zone', () => {
    expect(dueRange({ kind: 'today' }, now, 'UTC')).toEqual({ from: null, to: new Date('2026-11-11T00:00:00Z') });
    expect(dueRange({ kind: 'overdue' }, now, 'UTC')).toEqual({ from: null, to: new Date('2026-11-10T00:00:00Z') });
    // 10:00 UTC is 21:00 in Sydney: today there ends at 13:00 UTC.
    expect(dueRange({ kind: 'today' }, now, 'Australia/Sydney').to).toEqual(new Date('2026-11-10T13:00:00Z'));
    expect(dueRange({ kind: 'date', date: '2026-11-12' }, now, 'UTC')).toEqual({
      from: new Date('2026-11-12T00:00:00Z'),
      to: new Date('2026-11-13T00:00:00Z'),
    });
  });
});
