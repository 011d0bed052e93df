/**
 * The audit trail as the console shows it: who changed what, newest first, page by page, filtered by who, what
 * kind of change, what kind of thing and a date range (days in the viewer's time zone); actors named as people.
 */
import { DateTime } from 'luxon';
import * as auditRepo from '../db/repositories/audit.repository';
import { listAllApiKeys } from '../db/repositories/access.repository';
import { listStaff } from '../db/repositories/staff.repository';
import { ValidationError } from './errors';
import type { ServiceContext } from './context';

/** AUDIT_PAGE is how many entries one page lists. */
export const AUDIT_PAGE = 50;

/** AuditFilters are the trail's filters as a form sends them (empty strings mean no filter). */
export interface AuditFilters {
  actor?: string;
  action?: string;
  entity?: string;
  entityId?: string;
  /** Days, YYYY-MM-DD, in `zone`: from the start of `from` to the end of `to`. */
  from?: string;
  to?: string;
  /** The `next` of the previous page. */
  after?: string;
}

/** AuditEntry is one entry with its actor named. */
export interface AuditEntry extends auditRepo.AuditRow {
  actorName: string;
}

/** AuditPage is one page of the trail and the cursor of the next (null on the last page). */
export interface AuditPage {
  entries: AuditEntry[];
  next: string | null;
}

/** ActorOption is a person or key to filter by. */
export interface ActorOption {
  value: string;
  label: string;
}

const SYSTEM_ACTORS: Record<string, string> = {
  worker: 'the workers',
  scheduler: 'the scheduler',
  newsletter: 'the newsletter sender',
  'later-years': 'the later-years planner',
  customer: 'the customer (their own page)',
  'config:RAPPORT_ADMIN_KEY': 'the configuration (RAPPORT_ADMIN_KEY)',
  cli: 'the command line (npm run import)',
};

function day(field: string, value: string, zone: string): DateTime {
  const d = /^\d{4}-\d{2}-\d{2}$/.test(value) ? DateTime.fromISO(value, { zone }) : null;
  if (!d?.isValid) throw new ValidationError(field, 'must be a date such as 2026-11-30');
  return d.startOf('day');
}

function cursorOf(row: auditRepo.AuditRow): string {
  return `${row.at.toISOString()}_${row.id}`;
}

function parseCursor(value: string): { at: Date; id: string } {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)_(\d{1,19})$/.exec(value);
  const at = m ? new Date(m[1]!) : null;
  if (!m || !at || Number.isNaN(at.getTime())) throw new ValidationError('after', 'is not a page of this list');
  return { at, id: m[2]! };
}

/** actorNames names each actor: a staff member by name, an API key by its name, the system's parts in words. */
export async function actorNames(ctx: ServiceContext, actors: Iterable<string>): Promise<Map<string, string>> {
  const wanted = [...new Set(actors)];
  const names = new Map<string, string>();
  const needStaff = wanted.some((a) => a.startsWith('staff:'));
  const needKeys = wanted.some((a) => a.startsWith('key:'));
  const [staff, keys] = await Promise.all([
    needStaff ? listStaff(ctx.db) : Promise.resolve([]),
    needKeys ? listAllApiKeys(ctx.db) : Promise.resolve([]),
  ]);
  const staffById = new Map(staff.map((s) => [s.id, s.name]));
  const keyById = new Map(keys.map((k) => [k.id, k.name]));
  for (const a of wanted) {
    const [kind, id] = [a.slice(0, a.indexOf(':')), a.slice(a.indexOf(':') + 1)];
    let name = SYSTEM_ACTORS[a];
    if (!name && kind === 'staff') name = staffById.get(id) ?? 'a staff member no longer listed';
    if (!name && kind === 'key') name = keyById.has(id) ? `API key “${keyById.get(id)}”` : 'an API key';
    if (!name && kind === 'import') name = 'an import';
    names.set(a, name ?? a);
  }
  return names;
}

/** listAuditTrail returns one page of the trail, newest first; dates are days in `zone`. */
export async function listAuditTrail(
  ctx: ServiceContext,
  filters: AuditFilters,
  zone: string,
  limit = AUDIT_PAGE,
): Promise<AuditPage> {
  const from = filters.from ? day('from', filters.from, zone) : null;
  const to = filters.to ? day('to', filters.to, zone).plus({ days: 1 }) : null;
  if (from && to && to <= from) throw new ValidationError('to', 'must be on or after the “from” date');
  const text = (field: string, v: string | undefined, max: number) => {
    const t = v?.trim() ?? '';
    if (t.length > max) throw new ValidationError(field, `must be at most ${max} characters`);
    return t || undefined;
  };
  const rows = await auditRepo.listAudit(ctx.db, {
    actor: text('actor', filters.actor, 200),
    actionPrefix: text('action', filters.action, 100),
    entity: text('entity', filters.entity, 100),
    entityId: text('entityId', filters.entityId, 200),
    from: from?.toJSDate(),
    to: to?.toJSDate(),
    after: filters.after ? parseCursor(filters.after) : undefined,
    limit: limit + 1,
  });
  const page = rows.slice(0, limit);
  const names = await actorNames(
    ctx,
    page.map((r) => r.actor),
  );
  return {
    entries: page.map((r) => ({ ...r, actorName: names.get(r.actor) ?? r.actor })),
    next: rows.length > limit ? cursorOf(page[page.length - 1]!) : null,
  };
}

/** auditFilterOptions lists who (staff, API keys) and which kinds of thing the trail can be filtered by. */
export async function auditFilterOptions(ctx: ServiceContext): Promise<{ actors: ActorOption[]; entities: string[] }> {
  const [staff, keys, entities] = await Promise.all([
    listStaff(ctx.db),
    listAllApiKeys(ctx.db),
    auditRepo.listAuditEntities(ctx.db),
  ]);
  return {
    actors: [
      ...staff.map((s) => ({ value: `staff:${s.id}`, label: s.active ? s.name : `${s.name} (deactivated)` })),
      ...keys.map((k) => ({ value: `key:${k.id}`, label: `API key “${k.name}”${k.revokedAt ? ' (revoked)' : ''}` })),
      ...Object.entries(SYSTEM_ACTORS).map(([value, label]) => ({ value, label })),
    ],
    entities,
  };
}
