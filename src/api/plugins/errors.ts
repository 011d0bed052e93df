/**
 * One error handler: domain error codes map to statuses, schema failures name the field, internals of a 5xx are
 * hidden. Every error body is {"error": {"code", "message", "details"}}.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { isTransientDbError } from '../../services/context';
import { AppError, type ErrorCode } from '../../services/errors';
import { issueOf } from '../../services/input-policy';
import { BODY_TIMEOUT_CODE } from './body-timeout';

const STATUS: Record<ErrorCode, number> = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unavailable: 503,
  too_many_requests: 429,
};

interface ValidationIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** fieldOf turns an Ajv issue into a dotted field name: "customer.email", "items.0.unitPrice". */
export function fieldOf(issue: ValidationIssue, context?: string): string {
  return issueOf(issue, context).field;
}

function validationBody(err: FastifyError) {
  const { field, reason } = issueOf(err.validation![0] as ValidationIssue, err.validationContext);
  return {
    code: 'validation_failed',
    message: `${field}: ${reason}`,
    details: { field, location: err.validationContext },
  };
}

/**
 * bugReport is what a 500 logs: the route and where the code failed, never the error's message or detail, which may
 * quote the values of the request (a name, an address).
 */
function bugReport(err: FastifyError & Record<string, unknown>) {
  const pick = (k: string) => (typeof err[k] === 'string' ? (err[k] as string) : undefined);
  return {
    type: err.name,
    code: pick('code'),
    constraint: pick('constraint'),
    table: pick('table'),
    column: pick('column'),
    routine: pick('routine'),
    stack: typeof err.stack === 'string' ? err.stack.split('\n').slice(1).join('\n') : undefined,
  };
}

/** errorsPlugin installs the error and not-found handlers. */
export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) return reply.status(400).send({ error: validationBody(err) });
    if (err instanceof AppError)
      return reply
        .status(STATUS[err.code])
        .send({ error: { code: err.code, message: err.message, details: err.details } });
    if (err.code === BODY_TIMEOUT_CODE) {
      return reply
        .status(408)
        .header('connection', 'close')
        .send({ error: { code: 'request_timeout', message: `body: ${err.message}`, details: { field: 'body' } } });
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send({
        error: {
          code: 'payload_too_large',
          message: `body: larger than the limit of ${app.initialConfig.bodyLimit} bytes`,
          details: { field: 'body' },
        },
      });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status < 500) {
      const code = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported_media_type' : 'bad_request';
      return reply
        .status(status)
        .send({ error: { code, message: `body: ${err.message}`, details: { field: 'body' } } });
    }
    // The database out of reach for a moment (connections cut, the pool exhausted under load): try again shortly.
    if (isTransientDbError(err)) {
      req.log.warn(
        { err: { message: err.message, code: err.code }, route: req.routeOptions.url },
        'database unavailable',
      );
      return reply
        .status(503)
        .header('retry-after', '2')
        .send({ error: { code: 'unavailable', message: 'the database is unavailable; try again', details: {} } });
    }
    // Every 500 is a bug to fix (bad input is a 4xx): say where, for the developer, without the request's data.
    req.log.error(
      {
        bug: bugReport(err as FastifyError & Record<string, unknown>),
        method: req.method,
        route: req.routeOptions.url,
      },
      'request failed with an internal error (a bug)',
    );
    return reply.status(500).send({
      error: { code: 'internal', message: 'internal error; see the server log', details: { requestId: req.id } },
    });
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}`, details: {} } }),
  );
});
