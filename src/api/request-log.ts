/**
 * Request logging: Fastify's two lines per request (incoming, completed), except for the sale intake
 * (POST /v1/sales), the busiest route by far, which gets one line when it completes carrying both the request and
 * the outcome. At a thousand sales a second the second line cost about a twentieth of the API's CPU (see
 * BENCHMARKS.md); a request that never completes is still visible in the metrics and in its error line.
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

function isIntake(request: FastifyRequest): boolean {
  return request.method === 'POST' && request.routeOptions.url === '/v1/sales';
}

/** RequestLogController is the app's request logging: one line per sale intake request, two for every other. */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (isIntake(request)) return;
    super.incomingRequest(request, reply, metadata);
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (!isIntake(request)) return super.requestCompleted(error, request, reply, metadata);
    if (this.isLogDisabled(request)) return;
    if (error)
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
