/**
 * Bearer-key authentication and role checks. Routes declare `config: { roles: [...] }`; routes without it
 * (health, docs, customer pages) are public. An admin key may do everything.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiRole } from '../../domain/types';
import { authenticate, type ApiKey } from '../../services/auth.service';
import type { ServiceContext } from '../../services/context';
import { AppError } from '../../services/errors';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKey;
  }
  interface FastifyContextConfig {
    roles?: ApiRole[];
    idempotent?: boolean;
  }
}

/** callerOf returns the authenticated key of a request on a protected route. */
export function callerOf(req: FastifyRequest): ApiKey {
  if (!req.apiKey) throw new AppError('unauthorized', 'Authorization: a key is required');
  return req.apiKey;
}

/** authPlugin checks the key and role of every request to a route that declares roles. */
export const authPlugin = fp(async (app: FastifyInstance, opts: { ctx: ServiceContext }) => {
  app.decorateRequest('apiKey', undefined);
  app.addHook('onRequest', async (req) => {
    const roles = req.routeOptions.config.roles;
    if (!roles) return;
    const key = await authenticate(opts.ctx.db, req.headers.authorization);
    if (key.role !== 'admin' && !roles.includes(key.role)) {
      throw new AppError('forbidden', `a ${key.role} key may not ${req.method} ${req.routeOptions.url}`, {
        role: key.role,
      });
    }
    req.apiKey = key;
  });
});
