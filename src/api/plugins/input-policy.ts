/**
 * The input policy (src/services/input-policy.ts) applied to every route: one validator compiler for all schemas (no
 * coercion of bodies, strict digits in query strings and paths, the policy's formats), and a preValidation check that
 * no string or key anywhere in the params, query or body holds NUL or an unpaired surrogate, whatever its schema,
 * including routes that declare none (forms, raw bodies, routes added later).
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { coerceParams, createPolicyAjv, findTextProblem } from '../../services/input-policy';

/** textError is a validation error in Fastify's own shape, so every error handler names the field the same way. */
function textError(context: string, path: string[], reason: string): Error {
  const pointer = path.map((p) => `/${p.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
  return Object.assign(new Error(`${path.join('.') || context}: ${reason}`), {
    statusCode: 400,
    code: 'FST_ERR_VALIDATION',
    validation: [{ instancePath: pointer, keyword: 'text', message: reason, params: {} }],
    validationContext: context,
  });
}

/** inputPolicyPlugin installs the validator compiler and the text check at the root, for every route after it. */
export const inputPolicyPlugin = fp(async (app: FastifyInstance) => {
  const ajv = createPolicyAjv();
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const validate = ajv.compile(schema);
    if (httpPart === 'body') return validate;
    // Query strings, path parameters and headers are text: read numbers and booleans from it strictly first.
    const check = (data: unknown) => {
      coerceParams(schema, data);
      const ok = validate(data);
      check.errors = validate.errors;
      return ok;
    };
    check.errors = null as typeof validate.errors;
    return check;
  });
  app.addHook('preValidation', async (req) => {
    for (const [context, value] of [
      ['params', req.params],
      ['querystring', req.query],
      ['body', req.body],
    ] as const) {
      const bad = findTextProblem(value);
      if (bad) throw textError(context, bad.path, bad.reason);
    }
  });
});
