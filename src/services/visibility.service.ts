/**
 * Who sees what, one rule for the console and for staff API keys: a salesperson or executive sees their own tasks
 * and the customers they look after (whose sales they made or whose tasks they hold); a manager also sees everyone
 * who reports to them. An admin key sees everything. Anything else is answered as if it did not exist (not_found),
 * by link or by guessing ids.
 */
import { findStaffById } from '../db/repositories/staff.repository';
import * as visibility from '../db/repositories/visibility.repository';
import type { ApiRole } from '../domain/types';
import { NotFoundError } from './errors';
import type { ServiceContext } from './context';

/** Viewer is who asks: an admin key, or a staff member (signed in, or through their staff key). */
export interface Viewer {
  role: ApiRole;
  staffId: string | null;
}

/** Scope is what a viewer may see: everything, or the work of these staff members (themselves and their team). */
export type Scope = { all: true } | { all: false; staffIds: string[] };

/** scopeOf returns a viewer's scope: a manager's team is everyone below them; nobody's key sees nothing. */
export async function scopeOf(ctx: ServiceContext, viewer: Viewer): Promise<Scope> {
  if (viewer.role === 'admin') return { all: true };
  if (!viewer.staffId) return { all: false, staffIds: [] };
  const me = await findStaffById(ctx.db, viewer.staffId);
  if (!me || !me.active) return { all: false, staffIds: [] };
  return { all: false, staffIds: me.role === 'manager' ? await visibility.teamOf(ctx.db, me.id) : [me.id] };
}

/** seesTask tells whether a scope covers a task (by its assignee). */
export function seesTask(
  scope: Scope,
  task: { assignee?: { id: string } | null; assigneeId?: string | null },
): boolean {
  if (scope.all) return true;
  const assigneeId = task.assignee?.id ?? task.assigneeId ?? null;
  return assigneeId !== null && scope.staffIds.includes(assigneeId);
}

/** seesCustomer tells whether a scope covers a customer. */
export async function seesCustomer(ctx: ServiceContext, scope: Scope, customerId: string): Promise<boolean> {
  if (scope.all) return true;
  if (scope.staffIds.length === 0) return false;
  return visibility.looksAfter(ctx.db, scope.staffIds, customerId);
}

/** requireCustomer throws not_found unless the viewer may see the customer. */
export async function requireCustomer(ctx: ServiceContext, viewer: Viewer, customerId: string): Promise<Scope> {
  const scope = await scopeOf(ctx, viewer);
  if (!(await seesCustomer(ctx, scope, customerId))) throw new NotFoundError('customer', customerId);
  return scope;
}

/** visibleCustomers keeps, in order, the customers of `list` the scope covers. */
export async function visibleCustomers<T extends { id: string }>(
  ctx: ServiceContext,
  scope: Scope,
  list: T[],
): Promise<T[]> {
  if (scope.all) return list;
  if (scope.staffIds.length === 0) return [];
  const ok = await visibility.customersLookedAfter(
    ctx.db,
    scope.staffIds,
    list.map((c) => c.id),
  );
  return list.filter((c) => ok.has(c.id));
}
