/** Staff: salespeople, executives and managers. */
import type { Selectable } from 'kysely';
import type { Database } from '../database';
import type { Staff as StaffRow } from '../types';
import type { StaffRole } from '../../domain/types';

/** StaffMember is a person of the business who signs letters and makes calls. */
export interface StaffMember {
  id: string;
  email: string;
  name: string;
  title: string | null;
  /** A direct phone number, printed under their signature (else the business's). */
  phone: string | null;
  role: StaffRole;
  managerId: string | null;
  timezone: string | null;
  workingDays: number[];
  workStart: string;
  workEnd: string;
  active: boolean;
  /** Created by a sale and not yet confirmed by a manager: no customer data is emailed to them, nor Reply-To. */
  pending: boolean;
}

/** NewStaff is what creating a staff member needs. */
export type NewStaff = Omit<
  StaffMember,
  'id' | 'active' | 'pending' | 'title' | 'phone' | 'managerId' | 'timezone' | 'workingDays' | 'workStart' | 'workEnd'
> &
  Partial<Pick<StaffMember, 'title' | 'phone' | 'managerId' | 'timezone' | 'workingDays' | 'workStart' | 'workEnd'>>;

/** toStaff maps a staff row to the domain type. */
export function toStaff(row: Selectable<StaffRow>): StaffMember {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    title: row.title,
    phone: row.phone ?? null,
    role: row.role as StaffRole,
    managerId: row.managerId,
    timezone: row.timezone,
    workingDays: row.workingDays,
    workStart: row.workStart,
    workEnd: row.workEnd,
    active: row.active,
    pending: row.pending,
  };
}

/** findStaffByEmail matches case-insensitively. */
export async function findStaffByEmail(db: Database, email: string): Promise<StaffMember | null> {
  const row = await db
    .selectFrom('staff')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .executeTakeFirst();
  return row ? toStaff(row) : null;
}

/** findStaffById returns one staff member or null. */
export async function findStaffById(db: Database, id: string): Promise<StaffMember | null> {
  const row = await db.selectFrom('staff').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toStaff(row) : null;
}

/** insertStaff creates a staff member; a duplicate email raises the unique violation. */
export async function insertStaff(db: Database, s: NewStaff): Promise<StaffMember> {
  const row = await db
    .insertInto('staff')
    .values({
      email: s.email,
      name: s.name,
      role: s.role,
      title: s.title ?? null,
      phone: s.phone ?? null,
      managerId: s.managerId ?? null,
      timezone: s.timezone ?? null,
      workingDays: s.workingDays ?? [1, 2, 3, 4, 5],
      workStart: s.workStart ?? '09:00',
      workEnd: s.workEnd ?? '17:00',
      // Someone added by a manager or an admin is known; the table's default (pending) is for the sale paths.
      pending: false,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toStaff(row);
}

/** findFirstActiveByRole returns the longest-serving active staff member with `role`, or null. */
export async function findFirstActiveByRole(db: Database, role: StaffRole): Promise<StaffMember | null> {
  const row = await db
    .selectFrom('staff')
    .selectAll()
    .where('role', '=', role)
    .where('active', '=', true)
    .orderBy('createdAt')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  return row ? toStaff(row) : null;
}

/** listStaff returns everyone, by name. */
export async function listStaff(db: Database): Promise<StaffMember[]> {
  return (await db.selectFrom('staff').selectAll().orderBy('name').execute()).map(toStaff);
}

/** countOpenTasks returns, per staff member with any, how many open tasks they hold. */
export async function countOpenTasks(db: Database): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('tasks')
    .select(['assigneeId', (eb) => eb.fn.countAll<string>().as('n')])
    .where('status', '=', 'open')
    .where('assigneeId', 'is not', null)
    .groupBy('assigneeId')
    .execute();
  return new Map(rows.map((r) => [r.assigneeId as string, Number(r.n)]));
}

/** updateStaff changes the given fields of one staff member and returns it, or null when unknown. */
export async function updateStaff(
  db: Database,
  id: string,
  patch: Partial<Omit<StaffMember, 'id'>> & { confirmedAt?: Date },
): Promise<StaffMember | null> {
  const row = await db
    .updateTable('staff')
    .set({ ...patch, updatedAt: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row ? toStaff(row) : null;
}
