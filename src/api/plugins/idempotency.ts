/**
 * The Idempotency-Key header on POST routes that declare `config: { idempotent: true }`: the key is claimed before the
 * handler runs, so two concurrent requests with it never both run; the first successful answer is stored and replayed
 * for the same key and body; the same key with another body, or while the first is still running, is a 409.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ServiceContext } from '../../services/context';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  findIdempotentResponse,
  releaseIdempotencyKey,
} from '../../services/idempotency.service';
import { ConflictError, ValidationError } from '../../services/errors';

declare module 'fastify' {
  interface FastifyRequest {
    idempotency?: { key: string; hash: string; route: string; apiKeyId: string };
  }
}

function bodyHash(body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(body ?? null))
    .digest('hex');
}

/** idempotencyPlugin replays stored answers and records new ones. */
export const idempotencyPlugin = fp(async (app: FastifyInstance, opts: { ctx: ServiceContext }) => {
  app.decorateRequest('idempotency', undefined);
  app.addHook('preHandler', async (req, reply) => {
    const key = req.headers['idempotency-key'];
    if (!req.routeOptions.config.idempotent || key === undefined || !req.apiKey) return;
    if (typeof key !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(key))
      throw new ValidationError('Idempotency-Key', 'must be 1 to 200 visible ASCII characters');
    const route = `${req.method} ${req.url.split('?')[0]}`;
    const hash = bodyHash(req.body);
    const idem = { key, route, apiKeyId: req.apiKey.id };
    if (await claimIdempotencyKey(opts.ctx, idem, hash)) {
      req.idempotency = { ...idem, hash };
      return;
    }
    const stored = await findIdempotentResponse(opts.ctx, idem);
    if (stored && stored.requestHash !== hash)
      throw new ConflictError('Idempotency-Key: already used with a different body', { field: 'Idempotency-Key' });
    if (!stored || stored.statusCode === 0)
      throw new ConflictError('Idempotency-Key: a request with this key is still in progress; retry shortly', {
        field: 'Idempotency-Key',
      });
    return reply.status(stored.statusCode).header('idempotent-replay', 'true').send(stored.response);
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const idem = req.idempotency;
    if (!idem) return payload;
    // Only a success is kept and replayed; after an error the client may try again with the same key.
    if (reply.statusCode < 400 && typeof payload === 'string')
      await completeIdempotencyKey(opts.ctx, idem, reply.statusCode, JSON.parse(payload));
    else await releaseIdempotencyKey(opts.ctx, idem);
    return payload;
  });
});
