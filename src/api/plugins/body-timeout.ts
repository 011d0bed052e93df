/**
 * Request bodies must arrive in time: a client that sends its body slowly (or stops) holds a connection and a parser
 * for as long as it likes otherwise. An ordinary body must be complete within `totalMs` of the request's start; a
 * streamed upload (routes with `config: { streamedBody: true }`, the imports) may take as long as it needs but must not
 * pause for `idleMs`. Either is answered 408 with `Connection: close`, and the connection is closed.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The body is consumed as a stream by the handler (an upload): only pauses in it are timed out. */
    streamedBody?: boolean;
  }
}

/** BODY_TIMEOUT_CODE marks the error of a body not received in time; the error handler answers it 408. */
export const BODY_TIMEOUT_CODE = 'RAPPORT_BODY_TIMEOUT';

/** BodyTimeoutOptions are the two limits, in milliseconds. */
export interface BodyTimeoutOptions {
  totalMs: number;
  idleMs: number;
}

/** bodyTimeoutPlugin times every request body that is still arriving after the request's headers. */
export const bodyTimeoutPlugin = fp(async (app: FastifyInstance, opts: BodyTimeoutOptions) => {
  app.addHook('onRequest', async (req, reply) => {
    const raw = req.raw;
    const socket = raw.socket as (typeof raw.socket & { bytesRead?: number }) | undefined;
    const hasBody = Number(raw.headers['content-length'] ?? 0) > 0 || raw.headers['transfer-encoding'] !== undefined;
    // Injected requests (tests) have their whole body at once and no real socket.
    if (!hasBody || raw.complete || !socket || typeof socket.bytesRead !== 'number') return;
    const streamed = req.routeOptions.config.streamedBody === true;
    const started = performance.now();
    let lastBytes = socket.bytesRead;
    let lastProgress = started;
    const tick = Math.max(10, Math.min(opts.idleMs, opts.totalMs) / 4);
    const timer = setInterval(() => {
      const now = performance.now();
      if (socket.bytesRead !== lastBytes) {
        lastBytes = socket.bytesRead;
        lastProgress = now;
      }
      const why =
        !streamed && now - started >= opts.totalMs
          ? `not received within ${opts.totalMs} ms`
          : now - lastProgress >= opts.idleMs
            ? `no data received for ${opts.idleMs} ms`
            : null;
      if (why) fail(why);
    }, tick);
    timer.unref();
    const stop = () => clearInterval(timer);
    raw.once('end', stop);
    raw.once('close', stop);
    const fail = (why: string) => {
      stop();
      const err = Object.assign(new Error(why), { code: BODY_TIMEOUT_CODE, statusCode: 408 });
      // Whoever reads the body (the body parser, or an upload's handler) fails with it and the error handler answers.
      if (raw.listenerCount('error') > 0) {
        raw.emit('error', err);
        return;
      }
      if (reply.raw.headersSent) {
        socket.destroy();
        return;
      }
      reply.hijack();
      reply.raw.writeHead(408, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
      reply.raw.end(
        JSON.stringify({ error: { code: 'request_timeout', message: `body: ${why}`, details: { field: 'body' } } }),
      );
    };
  });
});
