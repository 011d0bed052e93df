/**
 * Every answer 500 or above (but 503, which says a dependency is down on purpose) that any Fastify app in a test
 * gives fails that test: bad input must get a 4xx, so a 5xx is a bug. Jest loads this file before every test file
 * (setupFilesAfterEnv in package.json); it hooks each Fastify instance as Fastify creates it (its diagnostics channel
 * `fastify.initialization`), so an app built by any helper, or by a test itself, is watched without opting in.
 */
import diagnostics from 'node:diagnostics_channel';
import type { FastifyInstance } from 'fastify';

const seen: string[] = [];

diagnostics.subscribe('fastify.initialization', (message) => {
  const { fastify } = message as { fastify: FastifyInstance };
  fastify.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode >= 500 && reply.statusCode !== 503)
      seen.push(`${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]} answered ${reply.statusCode}`);
  });
});

/** takeServerErrors returns and forgets the server errors seen so far (for the test that proves this check works). */
export function takeServerErrors(): string[] {
  return seen.splice(0);
}

function check(): void {
  const errors = takeServerErrors();
  if (errors.length > 0)
    throw new Error(`server errors seen (a 5xx is a bug; bad input must get a 4xx): ${errors.join('; ')}`);
}

afterEach(check);
afterAll(check);
