import { Counter, Gauge, register as defaultRegistry } from 'prom-client';
import type { Registry } from 'prom-client';

type LabelName = 'schema' | 'group';

// Several relays (or tests) may share one registry: reuse a metric once it is registered.
function gauge(registry: Registry, name: string, help: string, labelNames: LabelName[]): Gauge<LabelName> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<LabelName>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

function counter(registry: Registry, name: string, help: string, labelNames: LabelName[]): Counter<LabelName> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<LabelName>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export interface OutboxMetrics {
  backlog: Gauge<LabelName>;
  oldestAgeSeconds: Gauge<LabelName>;
  published: Counter<LabelName>;
  failures: Counter<LabelName>;
}

export function outboxMetrics(registry: Registry = defaultRegistry): OutboxMetrics {
  return {
    backlog: gauge(registry, 'outbox_backlog', 'Outbox rows not yet published', ['schema']),
    oldestAgeSeconds: gauge(registry, 'outbox_oldest_age_seconds', 'Age of the oldest unpublished outbox row', ['schema']),
    published: counter(registry, 'outbox_published_total', 'Outbox events published by the relay', ['schema']),
    failures: counter(registry, 'outbox_publish_failures_total', 'Failed relay publish attempts', ['schema']),
  };
}

export function consumerLagGauge(registry: Registry = defaultRegistry): Gauge<LabelName> {
  return gauge(registry, 'messaging_consumer_lag', 'Events published but not yet handled by this consumer group', ['group']);
}

export function deadLettersGauge(registry: Registry = defaultRegistry): Gauge<LabelName> {
  return gauge(registry, 'messaging_dead_letters', 'Open dead letters of this consumer group: events parked, waiting for an operator', ['group']);
}
