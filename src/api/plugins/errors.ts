/**
 * One error handler: domain error codes map to statuses, schema failures name the field, internals of a 5xx are
 * hidden. Every error body is {"error": {"code", "message", "details"}}.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, type ErrorCode } from '../../services/errors';

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
  const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const extra = (issue.params.missingProperty ?? issue.params.additionalProperty) as string | undefined;
  const parts = [path, extra].filter(Boolean);
  return parts.join('.') || context || 'body';
}

function validationBody(err: FastifyError) {
  const issue = err.validation![0] as ValidationIssue;
  const field = fieldOf(issue, err.validationContext);
  const reason =
    issue.keyword === 'additionalProperties'
      ? 'is not a known field'
      : issue.keyword === 'required'
        ? 'is required'
        : (issue.message ?? 'is invalid');
  return {
    code: 'validation_failed',
    message: `${field}: ${reason}`,
    details: { field, location: err.validationContext },
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
    req.log.error({ err }, 'request failed');
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
