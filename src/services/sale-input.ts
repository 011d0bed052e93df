/**
 * The shape of a posted sale (POST /v1/sales, and each row of an import) and its checks beyond shape: one schema
 * for the API's validation and OpenAPI document, and one function for everything that does not come through HTTP.
 */
import { Type, type Static } from '@sinclair/typebox';
import { fingerprint } from '../domain/contact-corrections';
import { emailKey, normalizeEmail, normalizePhone, type SaleIdentity } from '../domain/identity';
import type { SaleContact } from '../domain/sale-rules';
import { isValidZone } from '../domain/schedule';
import { ValidationError } from './errors';
import { compileChecker } from './input-policy';

const Money = Type.String({ pattern: '^[0-9]{1,12}(\\.[0-9]{1,2})?$', description: 'decimal amount, e.g. "1299.00"' });
const Email = Type.String({ format: 'email', maxLength: 254 });
const Text = (max = 200) => Type.String({ minLength: 1, maxLength: max });

/** AddressSchema is a postal address. */
export const AddressSchema = Type.Object(
  {
    lines: Type.Array(Text(200), { minItems: 1, maxItems: 4 }),
    city: Type.Optional(Text(100)),
    region: Type.Optional(Text(100)),
    postalCode: Type.Optional(Text(20)),
    country: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' }),
  },
  { additionalProperties: false },
);

/** CustomerInputSchema is the customer as a point-of-sale system knows them. */
export const CustomerInputSchema = Type.Object(
  {
    externalId: Type.Optional(Text(200)),
    firstName: Text(100),
    lastName: Type.Optional(Text(100)),
    email: Type.Optional(Email),
    phone: Type.Optional(Type.String({ pattern: '^\\+?[0-9 ()./-]{5,30}$' })),
    timezone: Type.Optional(Text(64)),
    preferredChannel: Type.Optional(Type.Union([Type.Literal('email'), Type.Literal('letter')])),
    address: Type.Optional(AddressSchema),
  },
  { additionalProperties: false },
);

/** MAX_SALE_ITEMS is the most items one sale may have (the API's limit; an import's rows of one sale too). */
export const MAX_SALE_ITEMS = 500;

/** SaleInputSchema is the body of POST /v1/sales. */
export const SaleInputSchema = Type.Object(
  {
    externalId: Text(200),
    source: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,100}$' }),
    soldAt: Type.String({ format: 'date-time' }),
    total: Type.Object(
      { amount: Money, currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' }) },
      { additionalProperties: false },
    ),
    items: Type.Array(
      Type.Object(
        {
          sku: Type.Optional(Text(100)),
          name: Text(200),
          category: Type.Optional(Text(100)),
          quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
          unitPrice: Money,
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_SALE_ITEMS },
    ),
    customer: CustomerInputSchema,
    salesperson: Type.Optional(Type.Object({ email: Email, name: Text(200) }, { additionalProperties: false })),
    referralCode: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9-]{3,32}$' })),
  },
  { additionalProperties: false },
);

/** SaleInput is a posted sale after shape validation. */
export type SaleInput = Static<typeof SaleInputSchema>;

/** checkSaleSemantics checks what a schema cannot: a known time zone and a sale date that is not in the future. */
export function checkSaleSemantics(sale: SaleInput, now: Date): void {
  if (sale.customer.timezone && !isValidZone(sale.customer.timezone)) {
    throw new ValidationError('customer.timezone', `unknown time zone "${sale.customer.timezone}"`);
  }
  const soldAt = Date.parse(sale.soldAt);
  if (Number.isNaN(soldAt)) throw new ValidationError('soldAt', 'must be an ISO 8601 date-time');
  if (soldAt > now.getTime() + 24 * 3600_000) throw new ValidationError('soldAt', 'is in the future');
  if (!sale.customer.email && !sale.customer.phone && !sale.customer.address && !sale.customer.externalId) {
    throw new ValidationError('customer', 'needs at least one of externalId, email, phone or address');
  }
}

// The API's own validation policy (src/services/input-policy.ts): the same formats, text rule and messages.
const checkSale = compileChecker<SaleInput>(SaleInputSchema);

/** parseSaleInput validates an untrusted object (an import row) as a sale, or throws a ValidationError naming the field. */
export function parseSaleInput(value: unknown, now: Date): SaleInput {
  const sale = checkSale(value);
  checkSaleSemantics(sale, now);
  return sale;
}

/** NormalizedCustomer is a sale's customer as the sale rules see it: details normalised, identity keys made. */
export interface NormalizedCustomer {
  contact: SaleContact;
  identity: SaleIdentity;
}

/**
 * normalizeSaleCustomer applies the identity rules' normal forms to a sale's customer (domain/identity.ts): the email
 * trimmed (compared case-folded), the phone in E.164 read in the customer's country (else `defaultCountry`) with
 * the text as given kept for display. `secret` keys the digests a corrected-away email or phone is found by.
 */
export function normalizeSaleCustomer(
  input: SaleInput,
  defaultCountry: string | null | undefined,
  secret: string,
): NormalizedCustomer {
  const c = input.customer;
  const email = c.email !== undefined ? normalizeEmail(c.email) : undefined;
  const phone = c.phone !== undefined ? normalizePhone(c.phone, c.address?.country ?? defaultCountry) : undefined;
  const contact: SaleContact = {
    firstName: c.firstName,
    lastName: c.lastName,
    email,
    phone: phone?.stored,
    phoneDisplay: phone?.display,
    timezone: c.timezone,
    preferredChannel: c.preferredChannel,
    address: c.address,
  };
  for (const key of Object.keys(contact) as (keyof SaleContact)[]) if (contact[key] === undefined) delete contact[key];
  return {
    contact,
    identity: {
      source: input.source,
      externalId: c.externalId ?? null,
      emailKey: emailKey(email),
      phoneKey: phone?.key ?? null,
      correctedEmail: email ? fingerprint(secret, 'email', email) : null,
      correctedPhone: phone?.key ? fingerprint(secret, 'phone', phone.stored) : null,
    },
  };
}
