/** The luxon offset cache gives exactly the offsets luxon computes itself, across DST changes in many zones. */
import { DateTime, IANAZone } from 'luxon';
import { installZoneOffsetCache } from '../../src/main/zone-offset-cache';

const ZONES = [
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'America/New_York',
  'Europe/London',
  'Asia/Kolkata',
  'America/St_Johns',
  'Pacific/Chatham',
  'UTC',
];
const START = Date.UTC(2025, 0, 1);
const HOURS = 2 * 366 * 24;

function offsets(): number[] {
  const result: number[] = [];
  for (const name of ZONES) {
    const zone = IANAZone.create(name);
    // Every 20 minutes over two years: every transition, and times on both sides of each.
    for (let i = 0; i < HOURS * 3; i++) result.push(zone.offset(START + i * 20 * 60_000));
  }
  return result;
}

it('returns the same offsets and wall times with the cache as without', () => {
  const before = offsets();
  const wallBefore = DateTime.fromISO('2026-04-05T02:30', { zone: 'Australia/Sydney' }).toISO();
  installZoneOffsetCache();
  expect(offsets()).toEqual(before);
  expect(offsets()).toEqual(before); // the second pass is served from the cache
  expect(DateTime.fromISO('2026-04-05T02:30', { zone: 'Australia/Sydney' }).toISO()).toBe(wallBefore);
});
