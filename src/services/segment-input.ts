/**
 * The shape of a segment: one schema for the API's validation and OpenAPI document (SegmentBody) and for checking a
 * stored segment read back from the database (StoredSegmentSchema), under the same input policy.
 */
import { Type } from '@sinclair/typebox';

const Role = Type.Union([Type.Literal('salesperson'), Type.Literal('executive'), Type.Literal('manager')]);
const Money = Type.String({ pattern: '^[0-9]{1,12}(\\.[0-9]{1,2})?$' });
const Clock = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' });

/** PlanStepSchema is one step of a segment's plan. */
export const PlanStepSchema = Type.Object(
  {
    step: Type.Integer({ minimum: 1, maximum: 1000 }),
    offset: Type.Object(
      {
        years: Type.Optional(Type.Integer({ minimum: 0, maximum: 50 })),
        months: Type.Optional(Type.Integer({ minimum: 0, maximum: 600 })),
        weeks: Type.Optional(Type.Integer({ minimum: 0, maximum: 2600 })),
        days: Type.Optional(Type.Integer({ minimum: 0, maximum: 20000 })),
      },
      { additionalProperties: false },
    ),
    channel: Type.Union([Type.Literal('mail'), Type.Literal('call')], {
      description: 'mail = letter or email, per customer',
    }),
    sender: Type.Optional(Role),
    assignee: Type.Optional(Role),
    purpose: Type.String({ minLength: 1, maxLength: 500, description: 'why the step exists, for staff only' }),
    customerDescription: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 300,
        description: "the coming contact in the customer's words, on their page (Liquid); absent: a default",
      }),
    ),
    template: Type.Optional(
      Type.Object(
        {
          subject: Type.String({ minLength: 1, maxLength: 300 }),
          body: Type.String({ minLength: 1, maxLength: 20000 }),
        },
        { additionalProperties: false },
      ),
    ),
    talkingPoints: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1000 }), { maxItems: 20 })),
    trigger: Type.Optional(
      Type.Literal('referral', {
        description: "referral = due `offset` after each sale credited to the customer's referral code (a thank-you)",
      }),
    ),
  },
  { additionalProperties: false },
);

/** SegmentMatchSchema are a segment's rules. */
export const SegmentMatchSchema = Type.Object(
  {
    categories: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    skus: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    minTotal: Type.Optional(Money),
    maxTotal: Type.Optional(Money),
    sources: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  },
  { additionalProperties: false },
);

/** PlanSchema is a segment's plan. */
export const PlanSchema = Type.Array(PlanStepSchema, { minItems: 1, maxItems: 50 });

/** SendWindowSchema is when a segment's letters and emails may go out. */
export const SendWindowSchema = Type.Object(
  {
    days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1, maxItems: 7, uniqueItems: true }),
    start: Clock,
    end: Clock,
  },
  { additionalProperties: false },
);

/** LaterYearsSchema is how a segment keeps in touch after the first anniversary. */
export const LaterYearsSchema = Type.Object(
  { humanContact: Type.Union([Type.Literal('call'), Type.Literal('letter')]) },
  { additionalProperties: false },
);

const SegmentName = Type.String({ minLength: 1, maxLength: 100 });
const Priority = Type.Integer({ minimum: 0, maximum: 1_000_000 });

/** SegmentBody is a segment as a manager writes it (POST and PUT /v1/segments); omitted parts take defaults. */
export const SegmentBody = Type.Object(
  {
    name: SegmentName,
    priority: Type.Optional(Priority),
    match: Type.Optional(SegmentMatchSchema),
    plan: Type.Optional(PlanSchema),
    sendWindow: Type.Optional(SendWindowSchema),
    laterYears: Type.Optional(LaterYearsSchema),
    content: Type.Optional(
      Type.Object(
        {
          careTips: Type.Optional(Type.String({ maxLength: 2000, description: 'care tips, used by steps 3 and 6' })),
          whatsNew: Type.Optional(Type.String({ maxLength: 2000, description: "what's new, used by step 4" })),
          serviceOffer: Type.Optional(Type.String({ maxLength: 2000, description: 'an offer of service, step 5' })),
        },
        { additionalProperties: false, description: 'content blocks the steps use; an empty one is left out' },
      ),
    ),
  },
  { additionalProperties: false },
);

/** StoredSegmentSchema is a segment as stored: every part present, each as SegmentBody allows it. */
export const StoredSegmentSchema = Type.Object(
  {
    name: SegmentName,
    priority: Priority,
    match: SegmentMatchSchema,
    plan: PlanSchema,
    sendWindow: SendWindowSchema,
    laterYears: LaterYearsSchema,
  },
  { additionalProperties: false },
);
