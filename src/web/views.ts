/**
 * The console's views: one Liquid engine with auto-escaping (`outputEscape: 'escape'`), so every `{{ value }}` is
 * HTML-escaped and an unescaped value must be written `{{ value | raw }}`, a visible, rare exception. Templates are
 * files under src/web/views (copied next to the compiled code by `npm run build`), static files under
 * src/web/static; both are found relative to this module, so the same code works from src/ (tests) and dist/.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Liquid } from 'liquidjs';
import { DateTime } from 'luxon';

/**
 * besideOrSource finds a folder of src/web next to this module (src/ in tests, dist/ after `npm run build`), else in
 * the source tree (a bench compiled elsewhere that does not copy them).
 */
function besideOrSource(name: string): string {
  const beside = path.join(__dirname, name);
  return existsSync(beside) ? beside : path.resolve(__dirname, '..', '..', '..', 'src', 'web', name);
}

/** VIEWS_DIR holds the templates: layout.liquid, one file per page, partials/. */
export const VIEWS_DIR = besideOrSource('views');
/** STATIC_DIR holds the stylesheet and the small scripts. */
export const STATIC_DIR = besideOrSource('static');
/** HTMX_DIR is htmx's own dist folder in node_modules (served as it is, no build step). */
export const HTMX_DIR = path.dirname(require.resolve('htmx.org/dist/htmx.min.js'));

/** ASSET_FILES are the files served under the assets prefix and where each comes from. */
const ASSET_FILES: Record<string, string> = {
  'htmx.min.js': path.join(HTMX_DIR, 'htmx.min.js'),
  'console.css': path.join(STATIC_DIR, 'console.css'),
  'console.js': path.join(STATIC_DIR, 'console.js'),
};

/**
 * ASSET_VERSION is a hash of every asset's content: it is part of each asset's URL, so a changed file gets a new
 * URL and the old one may be cached for a year.
 */
export const ASSET_VERSION = (() => {
  const h = createHash('sha256');
  for (const file of Object.values(ASSET_FILES)) h.update(readFileSync(file));
  return h.digest('hex').slice(0, 12);
})();

/** ASSET_PREFIX is where the assets are served. */
export const ASSET_PREFIX = `/console/assets/${ASSET_VERSION}/`;

/** assetUrl is the versioned URL of one asset, e.g. assetUrl('console.css'). */
export function assetUrl(name: keyof typeof ASSET_FILES | string): string {
  return `${ASSET_PREFIX}${name}`;
}

/** cityOf names a zone by its place: "Sydney", "New York", "UTC". */
export function cityOf(zone: string): string {
  if (zone === 'UTC' || zone === 'Etc/UTC') return 'UTC';
  return (zone.split('/').pop() ?? zone).replace(/_/g, ' ');
}

/** zoneLabel names a zone for people: "Sydney time", "UTC". */
export function zoneLabel(zone: string): string {
  const city = cityOf(zone);
  return city === 'UTC' ? 'UTC' : `${city} time`;
}

function toDateTime(value: unknown, zone: string): DateTime | null {
  if (value === null || value === undefined || value === '') return null;
  const d = value instanceof Date ? value : new Date(String(value));
  if (Number.isNaN(d.getTime())) return null;
  return DateTime.fromJSDate(d, { zone });
}

/** formatDateTime writes an instant with its zone: "Tue 1 Dec 2026, 14:05 (Sydney time)". */
export function formatDateTime(value: unknown, zone: string): string {
  const dt = toDateTime(value, zone);
  return dt ? `${dt.toFormat('ccc d LLL yyyy, HH:mm')} (${zoneLabel(zone)})` : '';
}

/** formatTime writes the time of day with its zone: "14:05 (Sydney time)". */
export function formatTime(value: unknown, zone: string): string {
  const dt = toDateTime(value, zone);
  return dt ? `${dt.toFormat('HH:mm')} (${zoneLabel(zone)})` : '';
}

/** formatDay writes a calendar day in a zone: "Tue 1 Dec 2026". */
export function formatDay(value: unknown, zone: string): string {
  const dt = toDateTime(value, zone);
  return dt ? dt.toFormat('ccc d LLL yyyy') : '';
}

/** createViews builds the console's template engine with its filters. */
export function createViews(): Liquid {
  const engine = new Liquid({
    root: [VIEWS_DIR],
    extname: '.liquid',
    outputEscape: 'escape',
    cache: true,
    strictFilters: true,
    ownPropertyOnly: true,
  });
  // {{ at | datetime: zone }}, {{ at | clock: zone }}, {{ at | day: zone }}: every time shows its zone.
  engine.registerFilter('datetime', (v: unknown, zone: string) => formatDateTime(v, zone || 'UTC'));
  engine.registerFilter('clock', (v: unknown, zone: string) => formatTime(v, zone || 'UTC'));
  engine.registerFilter('day', (v: unknown, zone: string) => formatDay(v, zone || 'UTC'));
  engine.registerFilter('hhmm', (v: unknown, zone: string) => toDateTime(v, zone || 'UTC')?.toFormat('HH:mm') ?? '');
  engine.registerFilter('city', (zone: string) => cityOf(zone || 'UTC'));
  engine.registerFilter('zone_label', (zone: string) => zoneLabel(zone || 'UTC'));
  engine.registerFilter('asset', (name: string) => assetUrl(name));
  engine.registerFilter('plural', (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`);
  return engine;
}
