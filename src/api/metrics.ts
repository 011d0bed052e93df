/** Prometheus metrics of the API process: HTTP latency, and touches by channel and status read at scrape time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServiceContext } from '../services/context';
import { countTouches, deliveriesSince } from '../services/metrics.service';
import type { Queues } from '../jobs/queues';

/** GAUGE_CACHE_MS is how long a counted gauge is reused: counting every touch costs seconds at a million sales. */
export const GAUGE_CACHE_MS = 15_000;

/** bearerMatches tells, in constant time, whether an Authorization header carries `token`; never with no token. */
export function bearerMatches(authorization: string | undefined, token: string | null): boolean {
  if (!token) return false;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!match) return false;
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(match[1]), digest(token));
}

/** cached returns `load`'s result, read again only when older than `ms` (concurrent scrapes share one read). */
function cached<T>(ms: number, load: () => Promise<T>): () => Promise<T> {
  let value: { at: number; result: Promise<T> } | null = null;
  return () => {
    const at = performance.now();
    if (!value || at - value.at > ms) {
      const result = load();
      value = { at, result };
      result.catch(() => (value = null));
    }
    return value.result;
  };
}

/** ApiMetrics are the instruments the API records into. */
export interface ApiMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

/** createApiMetrics registers the API's metrics on a fresh registry. */
export function createApiMetrics(ctx: ServiceContext): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'rapport_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const touchCounts = cached(GAUGE_CACHE_MS, () => countTouches(ctx));
  new Gauge({
    name: 'rapport_touches',
    help: `Touches by channel and status (counted at most every ${GAUGE_CACHE_MS / 1000} s)`,
    labelNames: ['channel', 'status'] as const,
    registers: [registry],
    async collect() {
      const rows = await touchCounts();
      this.reset();
      for (const r of rows) this.set({ channel: r.channel, status: r.status }, r.n);
    },
  });
  // Deliveries are read from Postgres at scrape time (the workers run in other processes): each scrape observes the
  // touches completed since the last one, so the histogram accumulates like one recorded at delivery.
  let seen: { at: Date; id: string } | null = null;
  new Histogram({
    name: 'rapport_delivery_latency_seconds',
    help: 'Time from a contact falling due to its delivery (sent or done), by channel',
    labelNames: ['channel'] as const,
    buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600],
    registers: [registry],
    async collect() {
      const rows = await deliveriesSince(ctx, seen, 50_000);
      for (const r of rows) this.observe({ channel: r.channel }, r.latency);
      const last = rows[rows.length - 1];
      if (last) seen = { at: last.completedAt, id: last.id };
    },
  });
  return { registry, httpDuration };
}

/** registerQueueMetrics adds the depth of every queue, by job state, read from Redis at scrape time. */
export function registerQueueMetrics(metrics: ApiMetrics, queues: Queues): void {
  if (metrics.registry.getSingleMetric('rapport_queue_jobs')) return;
  // Redis being down must not fail the whole scrape: the queue series are simply absent until it is back.
  const depths = cached(GAUGE_CACHE_MS, () =>
    Promise.all(
      Object.entries(queues).map(async ([name, queue]) => {
        try {
          return [name, await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed')] as const;
        } catch {
          return [name, {}] as const; // absent series say "unknown"
        }
      }),
    ),
  );
  new Gauge({
    name: 'rapport_queue_jobs',
    help: 'Jobs in each queue by state (waiting, active, delayed, prioritized, failed)',
    labelNames: ['queue', 'state'] as const,
    registers: [metrics.registry],
    async collect() {
      const rows = await depths();
      this.reset();
      for (const [name, counts] of rows)
        for (const [state, n] of Object.entries(counts)) this.set({ queue: name, state }, n as number);
    },
  });
}
