/**
 * The customer's own pages, public and reached only through a link (no key, no login, no cookie):
 * GET /p/:token (data held and forms; a preference link), POST /p/:token/contact, POST /p/:token/preferences,
 * POST /p/:token/request (email a single-use link to download or erase the data), GET|POST /d/:token (that link:
 * GET shows a button, POST uses it), GET /l/:code (the short link printed on letters), the one-click unsubscribe
 * GET|POST /u/:token (RFC 8058; unsubscribe links only), and GET /brand/logo. Forms post
 * application/x-www-form-urlencoded and are answered with a 303 back to the page, so they work without JavaScript.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyReply } from 'fastify';
import * as control from '../../services/customer-control.service';
import * as page from '../../services/customer-page.service';
import * as links from '../../services/customer-link.service';
import { getBusinessIdentity } from '../../services/business-identity.service';
import type { EmailChannel } from '../../channels/email.channel';
import type { ServiceContext } from '../../services/context';
import { ConflictError, NotFoundError, ValidationError } from '../../services/errors';
import { fieldOf } from '../plugins/errors';
import {
  MESSAGES,
  renderBadRequest,
  renderCustomerPage,
  renderDataLinkPage,
  renderErased,
  renderNotFound,
  renderUnsubscribe,
} from './customer-pages.views';

/** FORM_BODY_LIMIT bounds a form post; the contact form is the largest and far below it. */
const FORM_BODY_LIMIT = 16 * 1024;

const TokenParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 300 }) });
const Html = Type.String({ description: 'an HTML page' });
const Field = (max: number) => Type.Optional(Type.String({ maxLength: max }));
const ContactForm = Type.Object(
  {
    firstName: Field(200),
    lastName: Field(200),
    email: Field(300),
    phone: Field(60),
    addressLines: Field(1000),
    city: Field(200),
    region: Field(200),
    postalCode: Field(40),
    country: Field(10),
    preferredChannel: Field(10),
  },
  { additionalProperties: false },
);
const PreferencesForm = Type.Object(
  { form: Type.Optional(Type.Literal('preferences')), email: Field(10), newsletters: Field(10), contact: Field(10) },
  { additionalProperties: false },
);
const RequestForm = Type.Object(
  { what: Type.Union([Type.Literal('export'), Type.Literal('erase')], { description: 'which link to email' }) },
  { additionalProperties: false },
);
const UseForm = Type.Object(
  { confirm: Type.Optional(Type.Literal('yes', { description: 'the button sends "yes"' })) },
  { additionalProperties: false },
);
const CodeParams = Type.Object({ code: Type.String({ minLength: 1, maxLength: 40 }) });
const Redirect = Type.Null({ description: 'See Other: back to the page, with a message' });

// Every customer page is private to its link: never cached, never indexed, never sent on as a Referer, no scripts.
const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex, nofollow',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
};

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.status(status).type('text/html; charset=utf-8').send(body);
}

function pageUrl(token: string, message?: string): string {
  return `/p/${encodeURIComponent(token)}${message ? `?m=${message}` : ''}`;
}

/** noticeOf looks a message key up among MESSAGES' own keys only (never "constructor" or another inherited name). */
function noticeOf(key: string | undefined): string | undefined {
  return key !== undefined && Object.hasOwn(MESSAGES, key) ? MESSAGES[key] : undefined;
}

/** customerPagesRoutes registers the customer's pages, with a form parser and error pages of their own. */
export const customerPagesRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext; email?: EmailChannel }> = async (
  app,
  { ctx, email },
) => {
  // @fastify/formbody is not a dependency; URLSearchParams parses forms exactly, and only in this plugin's scope.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
    (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );
  // RFC 8058 lets a mail client send the one-click body as multipart; only its presence matters, so keep it raw.
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
    (_req, body, done) => done(null, body),
  );

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(PAGE_HEADERS);
    return payload;
  });
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err instanceof NotFoundError) return html(reply, 404, renderNotFound());
    if (err.validation) {
      const issue = err.validation[0] as Parameters<typeof fieldOf>[0];
      return html(
        reply,
        400,
        renderBadRequest(`${fieldOf(issue, err.validationContext)}: ${issue.message ?? 'is invalid'}`),
      );
    }
    if (err instanceof ValidationError) return html(reply, 400, renderBadRequest(err.message));
    // The only conflict a page meets: the customer's data is erased, so there is nothing left to change.
    if (err instanceof ConflictError) return html(reply, 409, renderErased());
    throw err;
  });

  const common = { tags: ['customer pages'], security: [], params: TokenParams, produces: ['text/html'] };

  app.get(
    '/p/:token',
    {
      schema: {
        ...common,
        summary: 'The preference page',
        querystring: Type.Object({ m: Type.Optional(Type.String({ maxLength: 20 })) }),
        response: { 200: Html, 404: Html },
      },
    },
    async (req, reply) => {
      const view = await page.loadCustomerPage(ctx, req.params.token);
      return html(reply, 200, renderCustomerPage(view, req.params.token, { message: noticeOf(req.query.m) }));
    },
  );

  app.post(
    '/p/:token/contact',
    {
      schema: {
        ...common,
        summary: 'Correct contact details and choose letter or email',
        body: ContactForm,
        response: { 303: Redirect, 400: Html, 404: Html },
      },
    },
    async (req, reply) => {
      try {
        const change = await control.correctContactDetails(ctx, req.params.token, req.body);
        // A new email address voids the links given out before (this one too): the page goes on under a fresh one.
        const token = change.changed ? links.preferenceToken(ctx, change.customer) : req.params.token;
        return reply.redirect(pageUrl(token, change.changed ? 'contact' : 'nochange'), 303);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        // Show the page again with what is wrong, naming the field; nothing was stored.
        const view = await page.loadCustomerPage(ctx, req.params.token);
        return html(reply, 400, renderCustomerPage(view, req.params.token, { error: err.message }));
      }
    },
  );

  app.post(
    '/p/:token/preferences',
    {
      schema: {
        ...common,
        summary: 'Emails, newsletters, do not contact',
        body: PreferencesForm,
        response: { 303: Redirect, 400: Html, 404: Html, 409: Html },
      },
    },
    async (req, reply) => {
      // An unticked box is not sent at all, so absence means "off".
      const on = (v: string | undefined) => v !== undefined && v !== '' && v !== 'no';
      const change = await control.savePreferences(ctx, req.params.token, {
        email: on(req.body.email),
        newsletters: on(req.body.newsletters),
        contact: on(req.body.contact),
      });
      return reply.redirect(pageUrl(req.params.token, change.changed ? 'preferences' : 'nochange'), 303);
    },
  );

  app.post(
    '/p/:token/request',
    {
      schema: {
        ...common,
        summary: 'Email a single-use link (30 minutes) to download or erase the data held',
        body: RequestForm,
        response: { 303: Redirect, 400: Html, 404: Html },
      },
    },
    async (req, reply) => {
      const sent = await links.requestDataLink(ctx, email, req.params.token, req.body.what);
      const message = sent.sent ? `sent_${req.body.what}` : 'no_email';
      return reply.redirect(pageUrl(req.params.token, message), 303);
    },
  );

  const dataLink = { ...common, params: TokenParams };
  app.get(
    '/d/:token',
    {
      schema: {
        ...dataLink,
        summary: 'An emailed single-use link: shows its button (a GET never uses it: mail scanners fetch links)',
        response: { 200: Html, 404: Html },
      },
    },
    async (req, reply) => {
      const grant = await links.peekDataLink(ctx, req.params.token);
      return html(reply, 200, renderDataLinkPage(grant.purpose, req.params.token));
    },
  );

  app.post(
    '/d/:token',
    {
      schema: {
        ...dataLink,
        summary: 'Use an emailed single-use link: download the data (JSON) or erase it',
        produces: ['application/json', 'text/html'],
        body: UseForm,
        response: {
          200: Type.Unknown({ description: 'the data held, as JSON, or the page saying it is erased' }),
          404: Html,
        },
      },
    },
    async (req, reply) => {
      const used = await links.useDataLink(ctx, req.params.token);
      if (used.purpose === 'erase') {
        await control.eraseCustomerData(ctx, used.customer.id);
        return html(reply, 200, renderErased());
      }
      const data = await page.exportCustomerData(ctx, used.customer);
      return reply
        .type('application/json; charset=utf-8')
        .header('content-disposition', 'attachment; filename="my-data.json"')
        .send(JSON.stringify(data, null, 2));
    },
  );

  app.get(
    '/l/:code',
    {
      schema: {
        tags: ['customer pages'],
        security: [],
        params: CodeParams,
        summary: 'The short link printed on a letter: on to the preference page',
        response: { 303: Redirect, 404: Html },
      },
    },
    async (req, reply) => {
      const token = await links.resolveShortCode(ctx, req.params.code);
      return reply.redirect(pageUrl(token), 303);
    },
  );

  app.get(
    '/brand/logo',
    { schema: { tags: ['customer pages'], security: [], summary: "The business's logo (emails' header)", hide: true } },
    async (_req, reply) => {
      const identity = await getBusinessIdentity(ctx);
      if (!identity.logo) return html(reply, 404, renderNotFound());
      return reply.type(identity.logo.type).header('cache-control', 'public, max-age=3600').send(identity.logo.data);
    },
  );

  app.get(
    '/u/:token',
    {
      schema: {
        ...common,
        summary: 'Unsubscribe page (mail clients may GET the link)',
        response: { 200: Html, 404: Html },
      },
    },
    async (req, reply) => {
      // A GET changes nothing: link scanners and previews fetch links, and must not unsubscribe anyone.
      await control.customerIdOfToken(ctx, req.params.token, 'unsubscribe');
      return html(reply, 200, renderUnsubscribe(req.params.token, false));
    },
  );

  app.post(
    '/u/:token',
    {
      schema: {
        ...common,
        summary: 'One-click unsubscribe (RFC 8058: body List-Unsubscribe=One-Click)',
        response: { 200: Html, 404: Html },
      },
    },
    async (req, reply) => {
      await control.unsubscribeFromEmail(ctx, req.params.token, 'one_click');
      return html(reply, 200, renderUnsubscribe(req.params.token, true));
    },
  );
};
