/**
 * HTTP hardening: security headers on every answer, per-key and per-address rate limits, /metrics behind its token,
 * /readyz telling the public only up or down, and the server timeouts and trustProxy from the settings.
 */
import { createApiKey } from '../../../src/services/auth.service';
import { createTestApp, type TestApp } from '../../helpers/app';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

describe('security headers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('hardening_headers', undefined, undefined, {
      settings: { publicUrl: 'https://shop.example' },
    });
  });
  afterAll(() => t.close());

  it.each(['/healthz', '/v1/segments', '/p/not-a-token', '/no-such-route'])('are on %s', async (url) => {
    const res = await t.app.inject({ method: 'GET', url, headers: t.auth(t.adminKey) });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
  });

  it('leave out HSTS when the public URL is http', async () => {
    const http = await createTestApp('hardening_http');
    try {
      const res = await http.app.inject({ method: 'GET', url: '/healthz' });
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['strict-transport-security']).toBeUndefined();
    } finally {
      await http.close();
    }
  });
});

describe('with the settings of a deployment', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('hardening_limits', undefined, undefined, {
      http: {
        rateLimits: { perKey: 3, perIp: 2 },
        metricsToken: METRICS_TOKEN,
        trustProxy: true,
        requestTimeoutMs: 1_234_000,
        connectionTimeoutMs: 56_000,
      },
    });
  });
  afterAll(() => t.close());

  it('limits each API key on /v1, each key on its own', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push(
        (await t.app.inject({ method: 'GET', url: '/v1/segments', headers: t.auth(t.adminKey) })).statusCode,
      );
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await t.app.inject({ method: 'GET', url: '/v1/segments', headers: t.auth(t.adminKey) });
    expect(limited.json().error).toMatchObject({ code: 'too_many_requests' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const other = (await createApiKey(t.database.db, { name: 'other', role: 'admin' })).key;
    expect((await t.app.inject({ method: 'GET', url: '/v1/segments', headers: t.auth(other) })).statusCode).toBe(200);
  });

  it('limits each client address on the customer pages, reading it through the trusted proxy', async () => {
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const page = (ip: string) => t.app.inject({ method: 'GET', url: '/p/not-a-token', headers: from(ip) });
    expect([(await page('203.0.113.5')).statusCode, (await page('203.0.113.5')).statusCode]).toEqual([404, 404]);
    expect((await page('203.0.113.5')).statusCode).toBe(429);
    const unsubscribe = await t.app.inject({ method: 'POST', url: '/u/not-a-token', headers: from('203.0.113.5') });
    expect(unsubscribe.statusCode).toBe(429);
    expect((await page('198.51.100.7')).statusCode).toBe(404);
  });

  it('does not limit health checks', async () => {
    for (let i = 0; i < 5; i++) expect((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('serves /metrics only with the metrics token', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const wrong = await t.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    const asAdmin = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth(t.adminKey) });
    expect(asAdmin.statusCode).toBe(401);
    const ok = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth(METRICS_TOKEN) });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('rapport_touches');
  });

  it('tells the public only whether it is ready, and the operator why', async () => {
    const pub = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(pub.statusCode).toBe(200);
    expect(pub.json()).toEqual({ status: 'ready' });
    const detail = await t.app.inject({ method: 'GET', url: '/readyz', headers: t.auth(METRICS_TOKEN) });
    expect(detail.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('sets the request and connection timeouts', () => {
    expect(t.app.server.requestTimeout).toBe(1_234_000);
    expect(t.app.initialConfig.connectionTimeout).toBe(56_000);
  });
});

it('has /metrics off without a metrics token', async () => {
  const t = await createTestApp('hardening_nometrics');
  try {
    const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth(t.adminKey) });
    expect(res.statusCode).toBe(404);
  } finally {
    await t.close();
  }
});
