/** Plan versions and re-planning: GET /v1/segments/:id/versions, POST /v1/segments/:id/replan (admin). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as replan from '../../services/replan.service';
import { listPlanVersions } from '../../services/segment.service';
import { ValidationError } from '../../services/errors';
import type { ServiceContext } from '../../services/context';
import { DateTimeSchema, IdParams, Nullable, errors } from '../schemas';

const ReplanBody = Type.Object(
  {
    dryRun: Type.Boolean({ description: 'true: list what would change and write nothing; false: apply a dry run' }),
    fromVersion: Type.Optional(Type.Integer({ minimum: 1, description: 'only the running plans on this version' })),
    customerIds: Type.Optional(
      Type.Array(Type.String({ format: 'uuid' }), {
        minItems: 1,
        maxItems: 100_000,
        description: 'only these customers',
      }),
    ),
    asOf: Type.Optional(Type.String({ format: 'date-time', description: "apply: the dry run's asOf" })),
    planFingerprint: Type.Optional(Type.String({ minLength: 1, description: "apply: the dry run's planFingerprint" })),
    fingerprint: Type.Optional(Type.String({ minLength: 1, description: "apply: the dry run's fingerprint" })),
    limit: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 100_000, description: 'most customers listed in the answer (default 1000)' }),
    ),
  },
  { additionalProperties: false },
);

const ChangeSchema = Type.Object({
  step: Type.Integer(),
  kind: Type.String({ description: 'added, removed, retimed or channel' }),
  touchId: Nullable(Type.String()),
  fromChannel: Nullable(Type.String()),
  toChannel: Nullable(Type.String()),
  fromDueAt: Nullable(DateTimeSchema),
  toDueAt: Nullable(DateTimeSchema),
});

const Counts = Type.Object({
  added: Type.Integer(),
  removed: Type.Integer(),
  retimed: Type.Integer(),
  channel: Type.Integer(),
});

const ReplanAnswer = Type.Object({
  dryRun: Type.Boolean(),
  segmentId: Type.String(),
  toVersion: Type.Integer(),
  asOf: DateTimeSchema,
  planFingerprint: Type.String(),
  fingerprint: Type.String(),
  considered: Type.Integer(),
  customers: Type.Integer(),
  counts: Counts,
  moved: Type.Optional(Type.Integer()),
  batches: Type.Optional(Type.Integer()),
  truncated: Type.Boolean({ description: 'true when more customers changed than `limit` lists' }),
  entries: Type.Array(
    Type.Object({
      customerId: Type.String(),
      runId: Type.String(),
      name: Type.String(),
      fromVersion: Nullable(Type.Integer()),
      fingerprint: Type.String(),
      changes: Type.Array(ChangeSchema),
    }),
  ),
});

const VersionsAnswer = Type.Object({
  versions: Type.Array(
    Type.Object({
      version: Type.Integer(),
      plan: Type.Array(Type.Unknown()),
      sendWindow: Type.Unknown(),
      changes: Type.Array(Type.String()),
      createdBy: Nullable(Type.String()),
      createdAt: DateTimeSchema,
      running: Type.Integer({ description: 'running first-year plans on this version' }),
    }),
  ),
  unversionedRunning: Type.Integer({ description: 'running plans started before versions were kept' }),
});

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new ValidationError(field, 'is required to apply: pass the dry run’s value');
  return value;
}

/** replanRoutes lets admins see a segment's plan versions and re-plan running customers with a dry run first. */
export const replanRoutes: FastifyPluginAsyncTypebox<{ ctx: ServiceContext }> = async (app, { ctx }) => {
  app.get(
    '/v1/segments/:id/versions',
    {
      config: { roles: ['admin'] },
      schema: { tags: ['segments'], params: IdParams, response: { 200: VersionsAnswer, ...errors(401, 403, 404) } },
    },
    async (req) => listPlanVersions(ctx, req.params.id),
  );
  app.post(
    '/v1/segments/:id/replan',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['segments'],
        description:
          'Move running first-year plans of the segment to its current plan version. `dryRun: true` lists every customer and ' +
          'step that would change and writes nothing; `dryRun: false` with that answer’s asOf and fingerprints makes ' +
          'exactly those changes, or answers 409 when the plan or a listed customer changed since.',
        params: IdParams,
        body: ReplanBody,
        response: { 200: ReplanAnswer, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const b = req.body;
      const scope = { segmentId: req.params.id, fromVersion: b.fromVersion, customerIds: b.customerIds };
      const limit = b.limit ?? 1000;
      const result = b.dryRun
        ? await replan.dryRunReplan(ctx, scope)
        : await replan.applyReplan(
            ctx,
            {
              ...scope,
              asOf: new Date(required(b.asOf, 'asOf')),
              planFingerprint: required(b.planFingerprint, 'planFingerprint'),
              fingerprint: required(b.fingerprint, 'fingerprint'),
            },
            `key:${req.apiKey?.id}`,
          );
      return {
        ...result,
        dryRun: b.dryRun,
        truncated: result.entries.length > limit,
        entries: result.entries.slice(0, limit),
      };
    },
  );
};
