/**
 * The Idempotency-Key header on POST routes that declare `config: { idempotent: true }`: the first answer is stored
 * and replayed for the same key and body; the same key with another body is a 409.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Database } from '../../db/database';
import { findIdempotentResponse, storeIdempotentResponse } from '../../db/repositories/access.repository';
import { ConflictError, ValidationError } from '../../services/errors';

declare module 'fastify' {
  interface FastifyRequest {
    idempotency?: { key: string; hash: string; route: string; apiKeyId: string };
  }
}

function bodyHash(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body ?? null)).digest('hex');
}

/** idempotencyPlugin replays stored answers and records new ones. */
export const idempotencyPlugin = fp(async (app: FastifyInstance, opts: { db: Database }) => {
  app.decorateRequest('idempotency', undefined);
  app.addHook('preHandler', async (req, reply) => {
    const key = req.headers['idempotency-key'];
    if (!req.routeOptions.config.idempotent || key === undefined || !req.apiKey) return;
    if (typeof key !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(key)) throw new ValidationError('Idempotency-Key', 'must be 1 to 200 visible ASCII characters');
    const route = `${req.method} ${req.url.split('?')[0]}`;
    const hash = bodyHash(req.body);
    const stored = await findIdempotentResponse(opts.db, req.apiKey.id, route, key);
    if (stored) {
      if (stored.requestHash !== hash) throw new ConflictError('Idempotency-Key: already used with a different body', { field: 'Idempotency-Key' });
      return reply.status(stored.statusCode).header('idempotent-replay', 'true').send(stored.response);
    }
    req.idempotency = { key, hash, route, apiKeyId: req.apiKey.id };
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const idem = req.idempotency;
    if (!idem || reply.statusCode >= 500 || typeof payload !== 'string') return payload;
    await storeIdempotentResponse(opts.db, { apiKeyId: idem.apiKeyId, route: idem.route, key: idem.key, requestHash: idem.hash, statusCode: reply.statusCode, response: JSON.parse(payload) });
    return payload;
  });
});
