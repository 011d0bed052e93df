/** Response and parameter schemas shared by several routes; they also make the OpenAPI document. */
import { Type } from '@sinclair/typebox';

/** ErrorSchema is the body of every error answer. */
export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Record(Type.String(), Type.Unknown()),
  }),
});

/** errors lists the error answers a route may give, for its response schema. */
export function errors(...statuses: number[]): Record<number, typeof ErrorSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorSchema]));
}

/** IdParams is a `:id` path parameter holding a UUID. */
export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** TouchSummarySchema is a touch as the sale answer lists it. */
export const TouchSummarySchema = Type.Object({
  id: Type.String(),
  step: Type.Integer(),
  channel: Type.String(),
  dueAt: Type.String({ format: 'date-time' }),
  status: Type.String(),
});

/** Nullable makes a schema accept null too. */
export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/** DateTimeSchema is an ISO 8601 instant; handlers may return a Date and the serializer writes the ISO string. */
export const DateTimeSchema = Type.Unsafe<Date | string>({ type: 'string', format: 'date-time' });
