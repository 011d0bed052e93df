/** Staff: creating people with a role, manager, time zone and working days. */
import * as repo from '../db/repositories/staff.repository';
import { audit } from '../db/repositories/access.repository';
import { isValidZone, parseClock } from '../domain/schedule';
import { ConflictError, NotFoundError, ValidationError } from './errors';
import { isUniqueViolation, type ServiceContext } from './context';
import { forgetCachedKeys } from './auth.service';
import { revokeSessionsOf } from '../db/repositories/session.repository';
import { loadPeople } from '../db/repositories/task.repository';
import { chooseAssignee, type AssignRule } from '../domain/call-task';
import { reassignTasksOfInactiveStaff } from './call-reminder.service';

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

/** HandOver is what deactivating someone did at once: sessions ended and open tasks moved to someone else. */
export interface HandOver {
  sessionsEnded: number;
  tasksMoved: number;
}

async function applyUpdate(
  ctx: ServiceContext,
  id: string,
  patch: Partial<Omit<repo.StaffMember, 'id'>>,
  actor: string,
): Promise<{ member: repo.StaffMember; handOver: HandOver | null }> {
  const current = await repo.findStaffById(ctx.db, id);
  if (!current) throw new NotFoundError('staff member', id);
  await checkStaff(ctx, id, { ...current, ...patch });
  const member = await repo.updateStaff(ctx.db, id, patch);
  if (!member) throw new NotFoundError('staff member', id);
  let handOver: HandOver | null = null;
  if (patch.active === false) {
    // Someone who leaves is signed out of the console and their keys stop, at once (sign-in also checks `active`).
    const sessionsEnded = await revokeSessionsOf(ctx.db, id, ctx.clock.now());
    forgetCachedKeys(ctx.db);
    // Their open calls go to their manager now, by the rule the worker's sweep also follows, rather than at its next
    // run. Each pass moves a bounded number; a pass that moves nothing means the rest has nobody to go to.
    let tasksMoved = 0;
    for (let n = -1; n !== 0; tasksMoved += n) n = await reassignTasksOfInactiveStaff(ctx, id, actor);
    handOver = { sessionsEnded, tasksMoved };
  }
  await audit(ctx.db, {
    actor,
    action: 'staff.updated',
    entity: 'staff',
    entityId: id,
    detail: { fields: Object.keys(patch), ...(handOver ?? {}) },
    at: ctx.clock.now(),
  });
  return { member, handOver };
}

/**
 * updateStaff changes a staff member; the result is checked as a whole, so a patch of workEnd alone cannot end the
 * day before the stored workStart. Marking someone inactive (they left) ends their sessions and hands their open
 * tasks to their manager (else the default assignee) at once.
 */
export async function updateStaff(
  ctx: ServiceContext,
  id: string,
  patch: Partial<Omit<repo.StaffMember, 'id'>>,
  actor: string,
): Promise<repo.StaffMember> {
  return (await applyUpdate(ctx, id, patch, actor)).member;
}

/** deactivateStaff marks someone who left inactive and says what was handed over (see updateStaff). */
export async function deactivateStaff(
  ctx: ServiceContext,
  id: string,
  actor: string,
): Promise<{ member: repo.StaffMember; handOver: HandOver }> {
  const { member, handOver } = await applyUpdate(ctx, id, { active: false }, actor);
  return { member, handOver: handOver ?? { sessionsEnded: 0, tasksMoved: 0 } };
}

/**
 * confirmStaff confirms a salesperson met through a sale (pending until now), optionally naming their manager: from
 * now on they may sign in and are emailed their calls.
 */
export async function confirmStaff(
  ctx: ServiceContext,
  id: string,
  managerId: string | null,
  actor: string,
): Promise<repo.StaffMember> {
  const current = await repo.findStaffById(ctx.db, id);
  if (!current) throw new NotFoundError('staff member', id);
  if (!current.pending) throw new ConflictError(`${current.name} is already confirmed`, { field: 'pending' });
  const now = ctx.clock.now();
  const patch = { pending: false, confirmedAt: now, ...(managerId ? { managerId } : {}) };
  await checkStaff(ctx, id, { ...current, ...patch });
  const member = await repo.updateStaff(ctx.db, id, patch);
  if (!member) throw new NotFoundError('staff member', id);
  await audit(ctx.db, {
    actor,
    action: 'staff.confirmed',
    entity: 'staff',
    entityId: id,
    detail: { managerId: member.managerId },
    at: now,
  });
  return member;
}

/** getStaff returns one staff member, or not_found. */
export async function getStaff(ctx: ServiceContext, id: string): Promise<repo.StaffMember> {
  const member = await repo.findStaffById(ctx.db, id);
  if (!member) throw new NotFoundError('staff member', id);
  return member;
}

/** Person is a staff member as the People list shows them: with their manager's name and open tasks. */
export interface PersonRow extends repo.StaffMember {
  managerName: string | null;
  openTasks: number;
}

/** listPeople returns everyone, by name, with their manager's name and how many open tasks they hold. */
export async function listPeople(ctx: ServiceContext): Promise<PersonRow[]> {
  const [all, open] = await Promise.all([repo.listStaff(ctx.db), repo.countOpenTasks(ctx.db)]);
  const names = new Map(all.map((s) => [s.id, s.name]));
  return all.map((s) => ({
    ...s,
    managerName: s.managerId ? (names.get(s.managerId) ?? null) : null,
    openTasks: open.get(s.id) ?? 0,
  }));
}

/** DeactivationPreview is what deactivating someone would do: how many open tasks move, and to whom. */
export interface DeactivationPreview {
  member: repo.StaffMember;
  openTasks: number;
  /** Who would take their open tasks (null: nobody active to take them; they stay unassigned to anyone active). */
  to: repo.StaffMember | null;
  rule: AssignRule;
}

/** previewDeactivation says, without changing anything, where a person's open tasks would go if they left now. */
export async function previewDeactivation(ctx: ServiceContext, id: string): Promise<DeactivationPreview> {
  const member = await getStaff(ctx, id);
  const open = (await repo.countOpenTasks(ctx.db)).get(id) ?? 0;
  const { people, fallbacks } = await loadPeople(ctx.db, [id]);
  const gone = <P extends { id: string }>(p: P | null): P | null => (p && p.id === id ? null : p);
  const self = people.get(id);
  if (self) people.set(id, { ...self, active: false });
  const choice = chooseAssignee({
    stepRole: 'salesperson',
    preferredId: id,
    salespersonId: null,
    people,
    fallbacks: {
      executive: gone(fallbacks.executive),
      manager: gone(fallbacks.manager),
      anyone: gone(fallbacks.anyone),
    },
  });
  const to = choice.assigneeId ? await repo.findStaffById(ctx.db, choice.assigneeId) : null;
  return { member, openTasks: open, to, rule: choice.rule };
}

/** listStaff returns everyone. */
export function listStaff(ctx: ServiceContext): Promise<repo.StaffMember[]> {
  return repo.listStaff(ctx.db);
}
