/**
 * The answer to a request Node's HTTP parser refuses before Fastify sees it (headers too large, headers too slow, a
 * malformed request): our error body, and `Connection: close`, because the connection is closed right after.
 */
import http from 'node:http';
import type { Socket } from 'node:net';

const ANSWERS: Record<string, { status: number; code: string; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', message: 'headers: larger than the server accepts' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', message: 'request: not received in time' },
};

/** clientErrorHandler is Fastify's clientErrorHandler option: it answers, then closes the connection. */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const answer = ANSWERS[err.code ?? ''] ?? { status: 400, code: 'bad_request', message: 'request: malformed' };
  const body = JSON.stringify({ error: { code: answer.code, message: answer.message, details: {} } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${answer.status} ${http.STATUS_CODES[answer.status]}\r\nConnection: close\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
