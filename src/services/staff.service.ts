/** Staff: creating people with a role, manager, time zone and working days. */
import * as repo from '../db/repositories/staff.repository';
import { audit } from '../db/repositories/access.repository';
import { isValidZone, parseClock } from '../domain/schedule';
import { ConflictError, NotFoundError, ValidationError } from './errors';
import { isUniqueViolation, type ServiceContext } from './context';
import { forgetCachedKeys } from './auth.service';
import { revokeSessionsOf } from '../db/repositories/session.repository';

/** StaffFields are what a staff member is checked on as a whole, once a patch is applied to what is stored. */
type StaffFields = Pick<repo.StaffMember, 'timezone' | 'workingDays' | 'workStart' | 'workEnd' | 'managerId'>;

/** STAFF_DEFAULTS are the stored defaults of the fields a new staff member may omit (the staff table's defaults). */
const STAFF_DEFAULTS = { workingDays: [1, 2, 3, 4, 5], workStart: '09:00', workEnd: '17:00' };

/** MAX_MANAGER_CHAIN bounds the walk up a manager chain when looking for a loop. */
const MAX_MANAGER_CHAIN = 50;

/**
 * checkStaff validates a staff member as a whole (`id` is null for a new one), so that nothing stored can break the
 * scheduling of their calls later: a known time zone, working hours that start before they end, distinct working
 * days 1 to 7, and a manager who exists, is not the person, and does not report to them.
 */
async function checkStaff(ctx: ServiceContext, id: string | null, s: StaffFields): Promise<void> {
  if (s.timezone && !isValidZone(s.timezone))
    throw new ValidationError('timezone', `unknown time zone "${s.timezone}"`);
  const start = parseClock(s.workStart);
  const end = parseClock(s.workEnd);
  if (start === null) throw new ValidationError('workStart', 'must be HH:mm');
  if (end === null) throw new ValidationError('workEnd', 'must be HH:mm');
  if (start >= end) throw new ValidationError('workEnd', 'must be after workStart');
  const days = s.workingDays;
  if (
    days.length === 0 ||
    new Set(days).size !== days.length ||
    days.some((d) => !Number.isInteger(d) || d < 1 || d > 7)
  )
    throw new ValidationError('workingDays', 'must list distinct weekdays 1 to 7');
  if (!s.managerId) return;
  if (s.managerId === id) throw new ValidationError('managerId', 'cannot be the person themselves');
  let manager = await repo.findStaffById(ctx.db, s.managerId);
  if (!manager) throw new ValidationError('managerId', 'no such staff member');
  for (let i = 0; id && manager?.managerId && i < MAX_MANAGER_CHAIN; i++) {
    if (manager.managerId === id) throw new ValidationError('managerId', 'reports to this person (a loop)');
    manager = await repo.findStaffById(ctx.db, manager.managerId);
  }
}

/** createStaff validates and stores a staff member. */
export async function createStaff(ctx: ServiceContext, input: repo.NewStaff, actor: string): Promise<repo.StaffMember> {
  await checkStaff(ctx, null, {
    timezone: input.timezone ?? null,
    workingDays: input.workingDays ?? STAFF_DEFAULTS.workingDays,
    workStart: input.workStart ?? STAFF_DEFAULTS.workStart,
    workEnd: input.workEnd ?? STAFF_DEFAULTS.workEnd,
    managerId: input.managerId ?? null,
  });
  try {
    const member = await repo.insertStaff(ctx.db, input);
    await audit(ctx.db, { actor, action: 'staff.created', entity: 'staff', entityId: member.id, at: ctx.clock.now() });
    return member;
  } catch (err) {
    if (isUniqueViolation(err))
      throw new ConflictError('email: a staff member with this email already exists', { field: 'email' });
    throw err;
  }
}

/**
 * updateStaff changes a staff member (e.g. marks one who left inactive, so their tasks go to their manager); the
 * result is checked as a whole, so a patch of workEnd alone cannot end the day before the stored workStart.
 */
export async function updateStaff(
  ctx: ServiceContext,
  id: string,
  patch: Partial<Omit<repo.StaffMember, 'id'>>,
  actor: string,
): Promise<repo.StaffMember> {
  const current = await repo.findStaffById(ctx.db, id);
  if (!current) throw new NotFoundError('staff member', id);
  await checkStaff(ctx, id, { ...current, ...patch });
  const member = await repo.updateStaff(ctx.db, id, patch);
  if (!member) throw new NotFoundError('staff member', id);
  if (patch.active === false) {
    // Someone who leaves is signed out of the console and their keys stop, at once (sign-in also checks `active`).
    await revokeSessionsOf(ctx.db, id, ctx.clock.now());
    forgetCachedKeys(ctx.db);
  }
  await audit(ctx.db, {
    actor,
    action: 'staff.updated',
    entity: 'staff',
    entityId: id,
    detail: { fields: Object.keys(patch) },
    at: ctx.clock.now(),
  });
  return member;
}

/**
 * confirmStaff confirms a person a sale created (pending): from now on their tasks are theirs, they get reminders and
 * digests, and replies to their customers' emails go to them.
 */
export async function confirmStaff(ctx: ServiceContext, id: string, actor: string): Promise<repo.StaffMember> {
  const now = ctx.clock.now();
  const member = await repo.updateStaff(ctx.db, id, { pending: false, confirmedAt: now });
  if (!member) throw new NotFoundError('staff member', id);
  await audit(ctx.db, { actor, action: 'staff.confirmed', entity: 'staff', entityId: id, at: now });
  return member;
}

/** listStaff returns everyone. */
export function listStaff(ctx: ServiceContext): Promise<repo.StaffMember[]> {
  return repo.listStaff(ctx.db);
}
