/** Staff: creating people with a role, manager, time zone and working days. */
import * as repo from '../db/repositories/staff.repository';
import { audit } from '../db/repositories/access.repository';
import { isValidZone, parseClock } from '../domain/schedule';
import { ConflictError, NotFoundError, ValidationError } from './errors';
import { isUniqueViolation, type ServiceContext } from './context';
import { forgetCachedKeys } from './auth.service';
import { revokeSessionsOf } from '../db/repositories/session.repository';

/** createStaff validates and stores a staff member. */
export async function createStaff(ctx: ServiceContext, input: repo.NewStaff, actor: string): Promise<repo.StaffMember> {
  if (input.timezone && !isValidZone(input.timezone))
    throw new ValidationError('timezone', `unknown time zone "${input.timezone}"`);
  if (input.workStart && input.workEnd && (parseClock(input.workStart) ?? 0) >= (parseClock(input.workEnd) ?? 0)) {
    throw new ValidationError('workEnd', 'must be after workStart');
  }
  if (input.managerId && !(await repo.findStaffById(ctx.db, input.managerId)))
    throw new ValidationError('managerId', 'no such staff member');
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

/** updateStaff changes a staff member (e.g. marks one who left inactive, so their tasks go to their manager). */
export async function updateStaff(
  ctx: ServiceContext,
  id: string,
  patch: Partial<Omit<repo.StaffMember, 'id'>>,
  actor: string,
): Promise<repo.StaffMember> {
  if (patch.timezone && !isValidZone(patch.timezone))
    throw new ValidationError('timezone', `unknown time zone "${patch.timezone}"`);
  if (patch.managerId === id) throw new ValidationError('managerId', 'cannot be the person themselves');
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

/** listStaff returns everyone. */
export function listStaff(ctx: ServiceContext): Promise<repo.StaffMember[]> {
  return repo.listStaff(ctx.db);
}
