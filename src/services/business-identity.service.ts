/**
 * The business's identity as customers see it: name, return address, phone, website, the From of its emails, an
 * optional logo and the layout of the signature. A manager saves it (validated as a whole); what is not saved comes
 * from the environment (RAPPORT_BUSINESS_*, RAPPORT_MAIL_FROM). Until the business has a name, customer-facing
 * sends are held: they wait as `scheduled` and nothing is lost.
 */
import type { Database } from '../db/database';
import { audit } from '../db/repositories/access.repository';
import { findStoredIdentity, saveStoredIdentity } from '../db/repositories/business-identity.repository';
import { ValidationError } from './errors';
import type { ServiceContext } from './context';
import { isEmailAddress } from './input-policy';

/** BusinessAddress is the business's postal (return) address. */
export interface BusinessAddress {
  lines: string[];
  city?: string | null;
  region?: string | null;
  postalCode?: string | null;
  /** ISO 3166-1 alpha-2: decides which letters are domestic (no country line) and the paper by default. */
  country: string;
}

/** SignatureLayout is how a letter or email is signed off under the signer's name. */
export interface SignatureLayout {
  /** The closing line, e.g. "Kind regards,". */
  closing: string;
  showTitle: boolean;
  showBusiness: boolean;
  showPhone: boolean;
}

/** IdentityDefaults are the identity fields the environment gives (each may be unset). */
export interface IdentityDefaults {
  name: string | null;
  address: BusinessAddress | null;
  phone: string | null;
  website: string | null;
  /** RAPPORT_MAIL_FROM; unset means "<name> <hello@host of PUBLIC_URL>". */
  emailFrom: string | null;
}

/** BusinessIdentity is the identity in force: what was saved, else the environment's default. */
export interface BusinessIdentity {
  name: string | null;
  address: BusinessAddress | null;
  phone: string | null;
  website: string | null;
  /** Always set: the saved or configured From, else "<name> <hello@host>". */
  emailFrom: string;
  logo: { type: 'image/png' | 'image/jpeg'; data: Buffer } | null;
  signature: SignatureLayout;
  /** The fields that have no value at all (neither saved nor configured), or are only derived (emailFrom). */
  unset: IdentityField[];
  updatedAt: Date | null;
}

/** IdentityField names one field of the identity. */
export type IdentityField = 'name' | 'address' | 'phone' | 'website' | 'emailFrom' | 'logo';

/** DEFAULT_SIGNATURE signs with the closing, the signer's name, title, the business and the phone. */
export const DEFAULT_SIGNATURE: SignatureLayout = {
  closing: 'Kind regards,',
  showTitle: true,
  showBusiness: true,
  showPhone: true,
};

/** IdentityInput is what a manager saves: the whole identity. `logo` absent keeps the stored one; null removes it. */
export interface IdentityInput {
  name: string;
  address?: BusinessAddress | null;
  phone?: string | null;
  website?: string | null;
  emailFrom?: string | null;
  logo?: { type: string; base64: string } | null;
  signature?: Partial<SignatureLayout> | null;
}

// A short cache: every delivery reads the identity, and a saved change reaches other processes within seconds.
const CACHE_MS = 2000;
const cache = new WeakMap<Database, { at: number; value: Promise<BusinessIdentity> }>();

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return 'localhost';
  }
}

function asAddress(v: unknown): BusinessAddress | null {
  const a = v as BusinessAddress | null;
  return a && Array.isArray(a.lines) && typeof a.country === 'string' ? a : null;
}

async function loadIdentity(ctx: ServiceContext): Promise<BusinessIdentity> {
  const stored = await findStoredIdentity(ctx.db);
  const env = ctx.settings.identity;
  const name = stored?.name ?? env.name;
  const address = asAddress(stored?.address) ?? env.address;
  const phone = stored?.phone ?? env.phone;
  const website = stored?.website ?? env.website;
  const configuredFrom = stored?.emailFrom ?? env.emailFrom;
  const emailFrom = configuredFrom ?? `${quoteName(name ?? 'Customer care')} <hello@${hostOf(ctx.settings.publicUrl)}>`;
  const logo =
    stored?.logo && (stored.logoType === 'image/png' || stored.logoType === 'image/jpeg')
      ? { type: stored.logoType as 'image/png' | 'image/jpeg', data: stored.logo }
      : null;
  const signature = { ...DEFAULT_SIGNATURE, ...((stored?.signature as Partial<SignatureLayout> | null) ?? {}) };
  const unset: IdentityField[] = [];
  if (!name) unset.push('name');
  if (!address) unset.push('address');
  if (!phone) unset.push('phone');
  if (!website) unset.push('website');
  if (!configuredFrom) unset.push('emailFrom');
  if (!logo) unset.push('logo');
  return { name, address, phone, website, emailFrom, logo, signature, unset, updatedAt: stored?.updatedAt ?? null };
}

/** quoteName quotes a display name for a From header when it holds characters RFC 5322 reserves. */
function quoteName(name: string): string {
  return /[(),.:;<>@[\]\\"]/.test(name) ? `"${name.replace(/["\\]/g, '\\$&')}"` : name;
}

/** getBusinessIdentity returns the identity in force (cached for two seconds per database handle). */
export function getBusinessIdentity(ctx: ServiceContext): Promise<BusinessIdentity> {
  const now = performance.now();
  const hit = cache.get(ctx.db);
  if (hit && now - hit.at < CACHE_MS) return hit.value;
  const value = loadIdentity(ctx);
  cache.set(ctx.db, { at: now, value });
  value.catch(() => cache.delete(ctx.db));
  return value;
}

/** sendsHeldReason says why customer-facing sends are held, or null when they may go out. */
export function sendsHeldReason(identity: BusinessIdentity): string | null {
  return identity.name
    ? null
    : 'the business name is not set (RAPPORT_BUSINESS_NAME, or PUT /v1/settings/business): letters, emails and ' +
        'newsletters wait as scheduled until it is';
}

const PHONE_RE = /^\+?[0-9 ()./-]{5,30}$/;
const MAX_LOGO_BYTES = 256 * 1024;

function text(v: string | null | undefined, field: string, max: number): string | null {
  if (v === undefined || v === null) return null;
  const t = v.replace(/\s+/g, ' ').trim();
  if (t.length > max) throw new ValidationError(field, `must be at most ${max} characters`);
  return t === '' ? null : t;
}

/** checkEmailFrom accepts "Name <addr@host>" or a bare address. */
function checkEmailFrom(v: string | null): string | null {
  if (v === null) return null;
  const m = /^(?:(.*?)\s*<([^<>]+)>|([^<>\s]+))$/.exec(v);
  const addr = m?.[2] ?? m?.[3];
  if (!addr || !isEmailAddress(addr))
    throw new ValidationError('emailFrom', 'must be an address, e.g. "Shop <hello@shop.example>"');
  if (/[\r\n]/.test(v)) throw new ValidationError('emailFrom', 'must be one line');
  return v;
}

function checkAddress(a: BusinessAddress | null | undefined): BusinessAddress | null {
  if (!a) return null;
  const lines = (a.lines ?? []).map((l, i) => text(l, `address.lines.${i}`, 100)).filter((l): l is string => !!l);
  if (lines.length === 0) throw new ValidationError('address.lines', 'needs at least one line');
  if (lines.length > 4) throw new ValidationError('address.lines', 'must be at most 4 lines');
  const country = (a.country ?? '').trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(country))
    throw new ValidationError('address.country', 'must be a two-letter country code, e.g. AU');
  return {
    lines,
    city: text(a.city, 'address.city', 100),
    region: text(a.region, 'address.region', 100),
    postalCode: text(a.postalCode, 'address.postalCode', 20),
    country,
  };
}

function checkLogo(l: IdentityInput['logo']): { type: 'image/png' | 'image/jpeg'; data: Buffer } | null | undefined {
  if (l === undefined || l === null) return l;
  if (l.type !== 'image/png' && l.type !== 'image/jpeg')
    throw new ValidationError('logo.type', 'must be image/png or image/jpeg');
  const data = Buffer.from(l.base64, 'base64');
  if (data.length === 0) throw new ValidationError('logo.base64', 'is empty or not base64');
  if (data.length > MAX_LOGO_BYTES)
    throw new ValidationError('logo.base64', `must be at most ${MAX_LOGO_BYTES / 1024} KB`);
  const png = data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const jpeg = data[0] === 0xff && data[1] === 0xd8;
  if ((l.type === 'image/png' && !png) || (l.type === 'image/jpeg' && !jpeg))
    throw new ValidationError('logo.base64', `is not a ${l.type === 'image/png' ? 'PNG' : 'JPEG'} image`);
  return { type: l.type, data };
}

function checkWebsite(v: string | null): string | null {
  if (v === null) return null;
  try {
    const u = new URL(/^https?:\/\//i.test(v) ? v : `https://${v}`);
    if (!u.hostname.includes('.')) throw new Error('no host');
  } catch {
    throw new ValidationError('website', 'must be a web address, e.g. https://shop.example');
  }
  return v;
}

/** validateIdentity checks a whole identity and returns it cleaned, or throws a ValidationError naming the field. */
export function validateIdentity(input: IdentityInput) {
  const name = text(input.name, 'name', 120);
  if (!name) throw new ValidationError('name', 'is required: it signs every letter and email');
  if (/[<>]/.test(name)) throw new ValidationError('name', 'must not contain < or >');
  const phone = text(input.phone, 'phone', 30);
  if (phone && !PHONE_RE.test(phone)) throw new ValidationError('phone', 'may hold only digits, spaces, + ( ) . / -');
  const s = input.signature ?? {};
  const closing = text(s.closing ?? DEFAULT_SIGNATURE.closing, 'signature.closing', 60);
  if (!closing) throw new ValidationError('signature.closing', 'is required, e.g. "Kind regards,"');
  return {
    name,
    address: checkAddress(input.address),
    phone,
    website: checkWebsite(text(input.website, 'website', 200)),
    emailFrom: checkEmailFrom(text(input.emailFrom, 'emailFrom', 200)),
    logo: checkLogo(input.logo),
    signature: {
      closing,
      showTitle: s.showTitle ?? DEFAULT_SIGNATURE.showTitle,
      showBusiness: s.showBusiness ?? DEFAULT_SIGNATURE.showBusiness,
      showPhone: s.showPhone ?? DEFAULT_SIGNATURE.showPhone,
    },
  };
}

/** updateBusinessIdentity validates and saves the whole identity, audited, and returns the identity now in force. */
export async function updateBusinessIdentity(
  ctx: ServiceContext,
  input: IdentityInput,
  actor: string,
): Promise<BusinessIdentity> {
  const clean = validateIdentity(input);
  const now = ctx.clock.now();
  await saveStoredIdentity(ctx.db, { ...clean, updatedAt: now, updatedBy: actor });
  await audit(ctx.db, {
    actor,
    action: 'business_identity.updated',
    entity: 'business_identity',
    detail: { fields: Object.keys(input) },
    at: now,
  });
  cache.delete(ctx.db);
  return getBusinessIdentity(ctx);
}

/** identityWarnings are the start-up warnings: each identity field still unset, and whether sends are held. */
export function identityWarnings(identity: BusinessIdentity): string[] {
  const words: Record<IdentityField, string> = {
    name: 'name (RAPPORT_BUSINESS_NAME)',
    address: 'return address (RAPPORT_BUSINESS_ADDRESS, RAPPORT_BUSINESS_COUNTRY)',
    phone: 'phone (RAPPORT_BUSINESS_PHONE)',
    website: 'website (RAPPORT_BUSINESS_WEBSITE)',
    emailFrom: `email From (RAPPORT_MAIL_FROM; using "${identity.emailFrom}")`,
    logo: 'logo (PUT /v1/settings/business)',
  };
  return identity.unset.map((f) => `business ${words[f]} is not set`);
}
