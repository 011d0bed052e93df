/**
 * HTTP hardening of the API: security headers on every answer and per-key / per-address rate limits
 * (@fastify/rate-limit). Headers are set in onSend only when absent, so a plugin registered later (the console's
 * helmet) may set its own policy for its pages.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import { AppError } from '../../services/errors';

/** RateLimits are requests per minute; 0 turns a limit off. */
export interface RateLimits {
  /** Per API key (the bearer token's hash) on /v1. */
  perKey: number;
  /** Per client address (see trustProxy) on the customer pages /p and /u. */
  perIp: number;
}

/** HardeningOptions: whether the public URL is https (HSTS), and the rate limits (absent: none, as in most tests). */
export interface HardeningOptions {
  https: boolean;
  rateLimits?: RateLimits;
}

type Group = 'key' | 'ip' | null;

function groupOf(url: string): Group {
  if (url.startsWith('/v1/') || url === '/v1') return 'key';
  if (url.startsWith('/p/') || url.startsWith('/u/')) return 'ip';
  return null;
}

/** rateKey names the bucket of a request: its bearer token's hash on /v1 (never the token itself), else its address. */
function rateKey(req: FastifyRequest): string {
  const auth = req.headers.authorization;
  if (groupOf(req.url) === 'key' && auth)
    return `key:${createHash('sha256').update(auth).digest('base64url').slice(0, 22)}`;
  return `ip:${req.ip}`;
}

/** hardeningPlugin adds the security headers and the rate limits to every route registered after it. */
export const hardeningPlugin = fp(async (app: FastifyInstance, o: HardeningOptions) => {
  app.addHook('onSend', async (_req, reply, payload) => {
    if (!reply.hasHeader('x-content-type-options')) reply.header('x-content-type-options', 'nosniff');
    // No page of ours is meant to be framed (clickjacking of the one-click unsubscribe and the console's forms).
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', "frame-ancestors 'none'");
    if (!reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'DENY');
    if (o.https && !reply.hasHeader('strict-transport-security'))
      reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    return payload;
  });
  const limits = o.rateLimits;
  if (!limits || (limits.perKey === 0 && limits.perIp === 0)) return;
  await app.register(rateLimit, {
    global: true,
    timeWindow: 60_000,
    // Counted in this process's memory: with N API processes a client may make up to N times the limit.
    max: (req) => (groupOf(req.url) === 'key' ? limits.perKey : limits.perIp),
    allowList: (req) => {
      const group = groupOf(req.url);
      return group === null || (group === 'key' ? limits.perKey : limits.perIp) === 0;
    },
    keyGenerator: rateKey,
    errorResponseBuilder: (_req, ctx) =>
      new AppError('too_many_requests', `rate limit of ${ctx.max} requests a minute reached; retry in ${ctx.after}`, {
        retryAfterSeconds: Math.ceil(ctx.ttl / 1000),
      }),
  });
});
