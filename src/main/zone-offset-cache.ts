/** A speed-up of luxon that each entry point installs once at start, so every process computes times the same way. */
import { IANAZone } from 'luxon';

let zoneCacheInstalled = false;

/**
 * installZoneOffsetCache makes luxon remember each zone's UTC offset per UTC day. Luxon asks Intl for the offset
 * of every instant it handles, which makes a plan cost about a millisecond; an offset is constant through a day
 * except on the day of a transition, and those days (where the day's first and last offsets differ) are never
 * cached, so results are exactly the same, about six times faster.
 */
export function installZoneOffsetCache(): void {
  if (zoneCacheInstalled) return;
  zoneCacheInstalled = true;
  const proto = IANAZone.prototype as unknown as { offset(ts: number): number; name: string };
  const original = proto.offset;
  const DAY = 86_400_000;
  const cache = new Map<string, Map<number, number | null>>();
  proto.offset = function offset(this: { name: string }, ts: number): number {
    if (!Number.isFinite(ts)) return original.call(this, ts);
    const day = Math.floor(ts / DAY);
    let zone = cache.get(this.name);
    if (!zone) cache.set(this.name, (zone = new Map()));
    let value = zone.get(day);
    if (value === undefined) {
      const first = original.call(this, day * DAY);
      value = first === original.call(this, day * DAY + DAY - 1) ? first : null;
      if (zone.size > 100_000) zone.clear();
      zone.set(day, value);
    }
    return value === null ? original.call(this, ts) : value;
  };
}
