/** Small helpers to write instants and expectations as local wall times (luxon), for the domain tests. */
import { DateTime } from 'luxon';

export const MON_FRI = [1, 2, 3, 4, 5];
export const EVERY_DAY = [1, 2, 3, 4, 5, 6, 7];

/** at turns a local ISO wall time ("2026-02-20T14:00") in `zone` into an instant. */
export function at(localIso: string, zone: string): Date {
  const dt = DateTime.fromISO(localIso, { zone });
  if (!dt.isValid) throw new Error(`bad test time ${localIso} in ${zone}`);
  return dt.toJSDate();
}

/** wall renders an instant as local "yyyy-MM-dd HH:mm ccc" in `zone`, e.g. "2026-02-23 09:00 Mon". */
export function wall(d: Date, zone: string): string {
  return DateTime.fromJSDate(d, { zone }).toFormat('yyyy-MM-dd HH:mm ccc');
}

/** offset is the zone's UTC offset at `d`, e.g. "-05:00". */
export function offset(d: Date, zone: string): string {
  return DateTime.fromJSDate(d, { zone }).toFormat('ZZ');
}
