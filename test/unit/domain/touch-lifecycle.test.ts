import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  assertMove,
  canMove,
  isOpen,
  PLANNED_STATUSES,
  sourcesOf,
  TOUCH_TRANSITIONS,
} from '../../../src/domain/touch-lifecycle';
import type { TouchStatus } from '../../../src/domain/types';

const statuses = Object.keys(TOUCH_TRANSITIONS) as TouchStatus[];

describe('the life cycle of a touch', () => {
  it('ends for good once a contact is made, missed, failed or cancelled', () => {
    for (const end of ['done', 'missed', 'failed', 'cancelled'] as const) expect(TOUCH_TRANSITIONS[end]).toEqual([]);
  });

  it('reaches every status from a planned one', () => {
    const seen = new Set<TouchStatus>(PLANNED_STATUSES);
    for (let grew = true; grew;) {
      grew = false;
      for (const from of [...seen]) {
        for (const to of TOUCH_TRANSITIONS[from]) if (!seen.has(to) && seen.add(to)) grew = true;
      }
    }
    expect([...seen].sort()).toEqual([...statuses].sort());
  });

  it('lets only a call task, a retry or a cancellation follow a sent contact', () => {
    expect(sourcesOf('done')).toEqual(['queued', 'sent']);
    expect(canMove('sent', 'scheduled')).toBe(false);
    expect(canMove('cancelled', 'sent')).toBe(false);
    expect(canMove('skipped', 'scheduled')).toBe(true);
    expect(canMove('scheduled', 'sent')).toBe(false);
  });

  it('refuses an illegal move before anything is written', () => {
    expect(() => assertMove(['queued', 'done'], 'cancelled')).toThrow('a touch may not move from done to cancelled');
    expect(() => assertMove(['scheduled', 'queued'], 'cancelled')).not.toThrow();
  });

  it('counts only scheduled and queued touches as open', () => {
    expect(statuses.filter(isOpen)).toEqual(['scheduled', 'queued']);
  });
});

/** sourceFiles lists the TypeScript files under a directory. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** statusChanges finds the statements of a source file that set a touch's status or write its history. */
function statusChanges(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/updateTable\('touches'\)[\s\S]*?\.execute/g)) {
    if (/\.set\(\{[^}]*\bstatus\s*:/.test(m[0])) found.push(m[0]);
  }
  for (const m of source.matchAll(/update touches\b[\s\S]*?(?:\bwhere\b|\breturning\b|`)/gi)) {
    if (/\bstatus\s*=/.test(m[0])) found.push(m[0]);
  }
  for (const m of source.matchAll(/insertInto\('touchEvents'\)|insert into touch_events/gi)) found.push(m[0]);
  return found;
}

describe('the one owner of a touch life', () => {
  const root = join(__dirname, '../../../src');
  const owner = join(root, 'db/repositories/touch-lifecycle.repository.ts');

  it('finds a status change where one is written', () => {
    expect(statusChanges(`db.updateTable('touches').set({ status: 'sent', updatedAt: now }).execute()`)).toHaveLength(
      1,
    );
    expect(statusChanges('sql`update touches t set status = ${s} where t.id = ${id}`')).toHaveLength(1);
    expect(statusChanges('sql`insert into touch_events (touch_id) values (${id})`')).toHaveLength(1);
    expect(statusChanges(`db.updateTable('touches').set({ content: null, statusReason: x }).execute()`)).toEqual([]);
  });

  it('is touch-lifecycle.repository: no other module changes a status or writes an event', () => {
    const elsewhere = sourceFiles(root)
      .filter((f) => f !== owner)
      .flatMap((f) => statusChanges(readFileSync(f, 'utf8')).map((s) => `${relative(root, f)}: ${s.slice(0, 80)}`));
    expect(elsewhere).toEqual([]);
    expect(statusChanges(readFileSync(owner, 'utf8')).length).toBeGreaterThan(0);
  });
});
