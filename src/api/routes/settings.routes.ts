/** The business's identity (admin): GET and PUT /v1/settings/business, saved as a whole. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  getBusinessIdentity,
  sendsHeldReason,
  updateBusinessIdentity,
  type BusinessIdentity,
} from '../../services/business-identity.service';
import type { ServiceContext } from '../../services/context';
import { Nullable, errors } from '../schemas';

const Address = Type.Object(
  {
    lines: Type.Array(Type.String({ maxLength: 100 }), { minItems: 1, maxItems: 4 }),
    city: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
    region: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
    postalCode: Type.Optional(Nullable(Type.String({ maxLength: 20 }))),
    country: Type.String({ minLength: 2, maxLength: 2, description: 'ISO 3166-1 alpha-2, e.g. AU' }),
  },
  { additionalProperties: false },
);
const Signature = Type.Object(
  {
    closing: Type.String({ minLength: 1, maxLength: 60, description: 'e.g. "Kind regards,"' }),
    showTitle: Type.Boolean(),
    showBusiness: Type.Boolean(),
    showPhone: Type.Boolean(),
  },
  { additionalProperties: false },
);
const IdentityBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 120 }),
    address: Type.Optional(Nullable(Address)),
    phone: Type.Optional(Nullable(Type.String({ maxLength: 30 }))),
    website: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
    emailFrom: Type.Optional(Nullable(Type.String({ maxLength: 200, description: '"Shop <hello@shop.example>"' }))),
    logo: Type.Optional(
      Nullable(
        Type.Object(
          {
            type: Type.Union([Type.Literal('image/png'), Type.Literal('image/jpeg')]),
            base64: Type.String({ minLength: 1, maxLength: 400_000 }),
          },
          { additionalProperties: false, description: 'omit to keep the stored logo; null removes it' },
        ),
      ),
    ),
    signature: Type.Optional(Nullable(Signature)),
  },
  { additionalProperties: false },
);
const IdentitySchema = Type.Object({
  name: Nullable(Type.String()),
  address: Nullable(Type.Unknown()),
  phone: Nullable(Type.String()),
  website: Nullable(Type.String()),
  emailFrom: Type.String(),
  logo: Nullable(Type.Object({ type: Type.String(), bytes: Type.Integer() })),
  signature: Signature,
  unset: Type.Array(Type.String(), { description: 'fields with no value, neither saved nor configured' }),
  sendsHeld: Nullable(Type.String({ description: 'why customer-facing sends are held, when they are' })),
});

function show(i: BusinessIdentity) {
  const { logo, updatedAt: _updatedAt, ...rest } = i;
  return { ...rest, logo: logo ? { type: logo.type, bytes: logo.data.length } : null, sendsHeld: sendsHeldReason(i) };
}

/** settingsRoutes lets admins read and save the business's identity. */
export const settingsRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  app.get(
    '/v1/settings/business',
    {
      config: { roles: ['admin'] },
      schema: { tags: ['settings'], response: { 200: IdentitySchema, ...errors(401, 403) } },
    },
    async () => show(await getBusinessIdentity(ctx)),
  );
  app.put(
    '/v1/settings/business',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['settings'],
        summary: 'Save the whole identity; fields left out fall back to the environment',
        body: IdentityBody,
        response: { 200: IdentitySchema, ...errors(400, 401, 403) },
      },
    },
    async (req) => show(await updateBusinessIdentity(ctx, req.body, `key:${req.apiKey?.id}`)),
  );
};
