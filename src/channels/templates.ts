/**
 * Message content: manager-written Liquid templates rendered into a subject, a plain-text body and a minimal HTML
 * body, each ending with the signature and the preference footer. Liquid here cannot read files (templates come
 * from an in-memory map that is empty) and is bounded in time and memory, because templates are written by users.
 */
import { Liquid, type Template } from 'liquidjs';
import { markdownToHtml, markdownToText } from './markdown';

/** MessageContext is every variable a letter, email or talking point may use. */
export interface MessageContext {
  customer: {
    firstName: string;
    lastName: string;
    /** Computed from the first and last name when not given. */
    fullName?: string;
    referralCode: string | null;
  };
  sale: {
    mainItem: string;
    items: Array<{ name: string; quantity: number; sku?: string; category?: string }>;
    /** Already formatted for the customer, e.g. "AUD 1,299.00". */
    total: string;
    /** Already formatted in the customer's zone, e.g. "1 November 2026". */
    soldAt: string;
  };
  /** Who signs: a person, or the business itself (`isBusiness`). `phone` is theirs, else the business's. */
  sender: {
    name: string;
    firstName?: string;
    title?: string | null;
    phone?: string | null;
    isBusiness?: boolean;
  };
  business: {
    name: string;
    phone?: string | null;
    website?: string | null;
    /** The return address on one line, e.g. "12 Shop St, Sydney NSW 2000". */
    address?: string | null;
  };
  /** The segment's content blocks, written once by a manager; an empty block is "". */
  content?: { careTips: string; whatsNew: string; serviceOffer: string };
  /** Where the message goes: templates may word things for the channel ("call me", never "reply" on paper). */
  channel?: 'email' | 'letter' | 'newsletter';
  links: {
    preferences: string;
    /** One-click unsubscribe page; present for emails only, so letters carry no unsubscribe line. */
    unsubscribe?: string | null;
  };
  /** How the sign-off is laid out (the business's setting); not a template variable. */
  signature?: { closing: string; showTitle: boolean; showBusiness: boolean; showPhone: boolean };
  /** The business's logo for an email's header, as a URL; not a template variable. */
  logoUrl?: string | null;
}

/** MessageTemplate is what a manager writes: a subject and a plain-text body with blank-line paragraphs. */
export interface MessageTemplate {
  subject: string;
  body: string;
}

/** RenderedMessage is a template rendered for one customer. */
export interface RenderedMessage {
  /** One line, whitespace collapsed, ready for a Subject header or a letter's subject line. */
  subject: string;
  /** The full plain-text email: body, signature, footer. */
  text: string;
  /** The full HTML email: the same content, escaped and inline-styled. */
  html: string;
  /** Only the rendered body paragraphs, for a letter, which draws its own signature and footer. */
  body: string;
  /** Only the footer lines (preference link, referral code, unsubscribe when an email). */
  footer: string;
  /** The sign-off lines: closing, signer, title, business, phone (as the signature layout says). */
  signature: string[];
}

/** TemplateFormat is how a body is written: plain paragraphs (letters and emails) or Markdown (newsletters). */
export type TemplateFormat = 'text' | 'markdown';

/** RENDER_TIMEOUT is how liquidjs says a render ran out of time (renderLimit). */
const RENDER_TIMEOUT = /render limit exceeded/i;

/** TemplateError says which part of a template is wrong and why, in words a manager can act on. */
export class TemplateError extends Error {
  /**
   * True when the render ran out of time rather than being wrong: the limit is wall-clock time, so a worker starved
   * of CPU (a loaded machine, a long GC pause) can hit it with a template that rendered fine before. Worth a retry.
   */
  readonly transient: boolean;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'TemplateError';
    this.transient = RENDER_TIMEOUT.test(message);
  }
}

// Bounds for user-written templates: a loop over a huge range or a giant string must fail fast, not stall a worker.
// A real template renders in well under a millisecond; 50 ms is a runaway.
const LIMITS = { parseLimit: 100_000, renderLimit: 50, memoryLimit: 10_000_000 };
/** MAX_OUTPUT is the most characters one rendered field may have: far beyond a one-page letter or an email. */
export const MAX_OUTPUT = 100_000;
const CACHE_SIZE = 500;

function createEngine(strictVariables: boolean): Liquid {
  return new Liquid({
    ...LIMITS,
    strictFilters: true,
    strictVariables,
    lenientIf: true,
    ownPropertyOnly: true,
    // An empty in-memory map replaces the file system, so {% include %} and {% render %} can never read a file.
    templates: {},
    relativeReference: false,
    dynamicPartials: false,
  });
}

// The engine holds no configuration and no connection, only parsing rules; sharing it is what makes the cache work.
const engine = createEngine(false);
const strictEngine = createEngine(true);
const parsed = new Map<string, Template[]>();

/** parseCached parses `source` once and keeps the most recently used CACHE_SIZE results. */
function parseCached(source: string): Template[] {
  const hit = parsed.get(source);
  if (hit) {
    // Re-inserting moves the entry to the end, so eviction below drops the least recently used one.
    parsed.delete(source);
    parsed.set(source, hit);
    return hit;
  }
  const templates = engine.parse(source);
  parsed.set(source, templates);
  if (parsed.size > CACHE_SIZE) parsed.delete(parsed.keys().next().value as string);
  return templates;
}

const NO_CONTENT = { careTips: '', whatsNew: '', serviceOffer: '' };

function scope(ctx: MessageContext): Record<string, unknown> {
  const fullName = ctx.customer.fullName ?? `${ctx.customer.firstName} ${ctx.customer.lastName}`.trim();
  const firstName = ctx.sender.firstName ?? ctx.sender.name.split(' ')[0];
  const phone = ctx.sender.phone || ctx.business.phone || '';
  const { signature: _signature, logoUrl: _logoUrl, ...vars } = ctx;
  return {
    ...vars,
    customer: { ...ctx.customer, fullName },
    sender: { title: '', ...ctx.sender, firstName, phone },
    business: { phone: '', website: '', address: '', ...ctx.business },
    content: ctx.content ?? NO_CONTENT,
    channel: ctx.channel ?? 'email',
  };
}

/**
 * twiceOnTimeout runs a render, and once more if it only ran out of time: the limit is wall-clock time, so a stall
 * (a GC pause, a starved process) can end a render that takes well under a millisecond, while a runaway template
 * runs out of time both times.
 */
function twiceOnTimeout<T>(render: () => T): T {
  try {
    return render();
  } catch (err) {
    if (!RENDER_TIMEOUT.test((err as Error).message)) throw err;
    return render();
  }
}

function renderSource(field: string, source: string, vars: Record<string, unknown>): string {
  let out: string;
  try {
    out = twiceOnTimeout(() => engine.renderSync(parseCached(source), vars) as string);
  } catch (err) {
    throw new TemplateError(field, `${field}: ${(err as Error).message}`);
  }
  if (out.length > MAX_OUTPUT)
    throw new TemplateError(field, `${field}: renders to more than ${MAX_OUTPUT} characters`);
  return out;
}

/** normalizeBody turns line endings into \n, trims line ends, and keeps at most one blank line between paragraphs. */
function normalizeBody(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.replace(/[ \t]+$/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** oneLine collapses all whitespace, newlines included, so a subject can never inject a header line. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

const DEFAULT_LAYOUT = { closing: 'Kind regards,', showTitle: true, showBusiness: true, showPhone: true };

/** signatureLines are the sign-off: closing, the signer's name, title, the business and a phone, as laid out. */
export function signatureLines(ctx: MessageContext): string[] {
  const layout = ctx.signature ?? DEFAULT_LAYOUT;
  const phone = ctx.sender.phone || ctx.business.phone || '';
  const lines = [layout.closing, ctx.sender.name];
  if (!ctx.sender.isBusiness) {
    if (layout.showTitle && ctx.sender.title) lines.push(ctx.sender.title);
    if (layout.showBusiness) lines.push(ctx.business.name);
  }
  if (layout.showPhone && phone) lines.push(`Phone ${phone}`);
  return lines.filter((l) => l.trim() !== '');
}

interface FooterLine {
  label: string;
  url?: string;
  value?: string;
}

function footerLines(ctx: MessageContext): FooterLine[] {
  const lines: FooterLine[] = [{ label: 'Manage your details and preferences', url: ctx.links.preferences }];
  if (ctx.customer.referralCode) lines.push({ label: 'Your referral code', value: ctx.customer.referralCode });
  if (ctx.links.unsubscribe) lines.push({ label: 'Unsubscribe from these emails', url: ctx.links.unsubscribe });
  return lines;
}

/** businessLine is the business's name, address, phone and website on one line, for a footer. */
export function businessLine(b: MessageContext['business']): string {
  return [b.name, b.address, b.phone, b.website].filter((p) => p && p.trim() !== '').join(' · ');
}

function footerText(ctx: MessageContext): string {
  return footerLines(ctx)
    .map((l) => `${l.label}: ${l.url ?? l.value}`)
    .join('\n');
}

/** escapeHtml makes text safe inside HTML element content and double-quoted attributes. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]);
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

const P_STYLE = 'margin:0 0 1em 0;';
const FOOTER_STYLE = 'margin:2em 0 0 0;padding-top:1em;border-top:1px solid #ddd;font-size:12px;color:#666;';

function paragraphHtml(paragraph: string, style = P_STYLE): string {
  return `<p style="${style}">${paragraph.split('\n').map(escapeHtml).join('<br>')}</p>`;
}

function footerHtml(ctx: MessageContext): string {
  const items = footerLines(ctx).map((l) =>
    l.url
      ? `<a href="${escapeHtml(l.url)}" style="color:#666;">${escapeHtml(l.label)}</a>`
      : `${escapeHtml(l.label)}: <strong>${escapeHtml(l.value ?? '')}</strong>`,
  );
  items.push(escapeHtml(businessLine(ctx.business)));
  return `<p style="${FOOTER_STYLE}">${items.join('<br>')}</p>`;
}

function headerHtml(ctx: MessageContext): string {
  const name = escapeHtml(ctx.business.name);
  const mark = ctx.logoUrl
    ? `<img src="${escapeHtml(ctx.logoUrl)}" alt="${name}" style="max-height:56px;max-width:240px;border:0;">`
    : `<span style="font-size:20px;font-weight:bold;color:#222;">${name}</span>`;
  const home = ctx.business.website ? websiteUrl(ctx.business.website) : null;
  return (
    `<div style="padding:0 0 12px 0;margin:0 0 20px 0;border-bottom:1px solid #ddd;">` +
    (home ? `<a href="${escapeHtml(home)}" style="text-decoration:none;">${mark}</a>` : mark) +
    '</div>'
  );
}

/** websiteUrl makes a configured website ("shop.example" or a URL) a link. */
export function websiteUrl(website: string): string {
  return /^https?:\/\//i.test(website) ? website : `https://${website}`;
}

function toHtml(subject: string, bodyHtml: string, ctx: MessageContext): string {
  return [
    '<!DOCTYPE html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>`,
    '<body style="margin:0;padding:0;background:#ffffff;">',
    '<div style="max-width:600px;margin:0 auto;padding:24px;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;color:#222;">',
    headerHtml(ctx),
    bodyHtml,
    paragraphHtml(signatureLines(ctx).join('\n'), 'margin:1.5em 0 0 0;'),
    footerHtml(ctx),
    '</div></body></html>',
  ].join('\n');
}

function textHeader(ctx: MessageContext): string {
  return [ctx.business.name, ctx.business.website].filter(Boolean).join(' · ');
}

/**
 * renderMessage renders `template` for one customer into a subject, a plain-text and an HTML version, both from the
 * same rendered body: the business's header, the body, the sign-off and the footer. A Markdown body (newsletters)
 * becomes HTML with raw HTML off, and text with each link's address written out.
 */
export function renderMessage(
  template: MessageTemplate,
  ctx: MessageContext,
  format: TemplateFormat = 'text',
): RenderedMessage {
  const vars = scope(ctx);
  const subject = oneLine(renderSource('subject', template.subject, vars));
  const source = normalizeBody(renderSource('body', template.body, vars));
  const body = format === 'markdown' ? markdownToText(source) : source;
  const bodyHtml =
    format === 'markdown'
      ? markdownToHtml(source)
      : (body === '' ? [] : body.split(/\n\n+/).map((p) => paragraphHtml(p))).join('\n');
  const footer = footerText(ctx);
  const signature = signatureLines(ctx);
  const text =
    [textHeader(ctx), body, signature.join('\n'), `--\n${footer}\n${businessLine(ctx.business)}`]
      .filter((s) => s !== '')
      .join('\n\n') + '\n';
  return { subject, text, html: toHtml(subject, bodyHtml, ctx), body, footer, signature };
}

/** renderTalkingPoints renders each talking point of a call step, dropping points that render empty. */
export function renderTalkingPoints(points: string[], ctx: MessageContext): string[] {
  const vars = scope(ctx);
  return points
    .map((point, i) => oneLine(renderSource(`talkingPoints[${i}]`, point, vars)))
    .filter((point) => point !== '');
}

/** SAMPLE_CONTEXT is a complete context used to check that a template only names variables that exist. */
export const SAMPLE_CONTEXT: Readonly<MessageContext> = Object.freeze({
  customer: { firstName: 'Ann', lastName: 'Lee', fullName: 'Ann Lee', referralCode: 'ANN-7Q2' },
  sale: {
    mainItem: '3-seat sofa',
    items: [{ name: '3-seat sofa', quantity: 1, sku: 'SOFA-3', category: 'furniture' }],
    total: 'AUD 1,299.00',
    soldAt: '1 November 2026',
  },
  sender: { name: 'Sam Shaw', firstName: 'Sam', title: 'Sales consultant', phone: '+61 2 5550 1234' },
  business: {
    name: 'Example Furniture',
    phone: '+61 2 5550 1000',
    website: 'example-furniture.example',
    address: '12 Example Parade, North Sydney NSW 2060',
  },
  content: {
    careTips: 'Vacuum the cushions weekly.',
    whatsNew: 'Our new range is in store.',
    serviceOffer: 'A free check-up.',
  },
  channel: 'email',
  links: { preferences: 'https://example.com/p/token', unsubscribe: 'https://example.com/u/token' },
});

function validateSource(field: string, source: string): void {
  try {
    // Rendering against a complete sample with strict variables also catches typos such as {{ customer.frstName }}.
    twiceOnTimeout(() => strictEngine.parseAndRenderSync(source, scope(SAMPLE_CONTEXT as MessageContext)));
  } catch (err) {
    throw new TemplateError(field, `${field}: ${(err as Error).message}`);
  }
}

/**
 * validateTemplate throws a TemplateError naming the field when a template has a Liquid syntax error, an unknown
 * filter or an unknown variable; it is called when a manager saves a template, so sends never meet these errors.
 */
export function validateTemplate(template: { subject: string; body: string; talkingPoints?: string[] }): void {
  validateSource('subject', template.subject);
  validateSource('body', template.body);
  (template.talkingPoints ?? []).forEach((point, i) => validateSource(`talkingPoints[${i}]`, point));
}
