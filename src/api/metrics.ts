/** Prometheus metrics of the API process: HTTP latency, and touches by channel and status read at scrape time. */
import { sql } from 'kysely';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from '../db/database';

/** ApiMetrics are the instruments the API records into. */
export interface ApiMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  salesRecorded: Counter<'outcome'>;
}

/** createApiMetrics registers the API's metrics on a fresh registry. */
export function createApiMetrics(db: Database): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'rapport_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const salesRecorded = new Counter({ name: 'rapport_sales_total', help: 'Sales posted, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  new Gauge({
    name: 'rapport_touches',
    help: 'Touches by channel and status',
    labelNames: ['channel', 'status'] as const,
    registers: [registry],
    async collect() {
      const rows = await sql<{ channel: string; status: string; n: number }>`
        select channel, status, count(*)::int as n from touches group by channel, status`.execute(db);
      this.reset();
      for (const r of rows.rows) this.set({ channel: r.channel, status: r.status }, r.n);
    },
  });
  return { registry, httpDuration, salesRecorded };
}
