import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { KitRequest, KitResponse, NextFunction } from '../http-types';

/**
 * The registry `/metrics` serves. Other libs add their gauges to it (outbox backlog and age, consumer lag):
 * `new Gauge({ name: 'outbox_backlog', help: '...', registers: [metricsRegistry] })`.
 */
export const metricsRegistry = new Registry();

let defaultMetricsCollected = false;

/** Process metrics (CPU, memory, event loop, GC) and the `service` label; safe to call more than once. */
export function enableDefaultMetrics(service: string): void {
  metricsRegistry.setDefaultLabels({ service });
  if (defaultMetricsCollected) return;
  collectDefaultMetrics({ register: metricsRegistry });
  defaultMetricsCollected = true;
}

export const httpRequestDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Duration of HTTP requests, by method, route template and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [metricsRegistry],
});

/** The matched route template (`/users/:id`), never the raw path, so label cardinality stays bounded. */
function routeTemplate(req: KitRequest): string {
  const path = req.route?.path;
  if (typeof path !== 'string') return 'unmatched';
  return `${req.baseUrl ?? ''}${path}` || '/';
}

/** Times every request, including those refused before routing (413, malformed JSON). */
export function httpMetricsMiddleware(req: KitRequest, res: KitResponse, next: NextFunction): void {
  const stop = httpRequestDuration.startTimer();
  res.once('finish', () => {
    stop({ method: req.method ?? 'UNKNOWN', route: routeTemplate(req), status: String(res.statusCode) });
  });
  next();
}
