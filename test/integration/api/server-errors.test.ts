/** The suite's 5xx watch (test/helpers/server-errors.ts) sees a 500 from any Fastify app, however it was built. */
import Fastify from 'fastify';
import { takeServerErrors } from '../../helpers/server-errors';

it('records a 500 of an app the test built itself, and lets a 503 pass', async () => {
  const app = Fastify();
  app.get('/boom', async () => {
    throw new Error('a bug');
  });
  app.get('/down', async (_req, reply) => reply.status(503).send({ down: true }));
  await app.ready();
  expect((await app.inject({ method: 'GET', url: '/boom' })).statusCode).toBe(500);
  expect((await app.inject({ method: 'GET', url: '/down' })).statusCode).toBe(503);
  await app.close();
  // Taken here so that this test passes; any other test that saw it would fail in afterEach.
  expect(takeServerErrors()).toEqual(['GET /boom answered 500']);
});
