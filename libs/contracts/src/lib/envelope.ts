/**
 * CloudEvents 1.0 envelope used on every transport. On Kafka the attributes travel as `ce_` headers
 * (binary content mode) and `data` is the JSON value; the postgres transport stores the same parts.
 */
export interface EventEnvelope<T = unknown> {
  specversion: '1.0';
  /** UUID, unique per event; consumers deduplicate on it. */
  id: string;
  /** The context that emitted the event, e.g. `identity`. */
  source: string;
  /** `<context>.<aggregate>.<past-tense verb>`, e.g. `identity.user.created`. */
  type: string;
  /** The aggregate id. */
  subject: string;
  /** ISO 8601 UTC. */
  time: string;
  datacontenttype: 'application/json';
  /** Extension: the tenant the event belongs to. */
  tenantid: string;
  /** Extension: the ordering key (the aggregate id unless stated otherwise). */
  partitionkey: string;
  /** W3C trace context of the write that produced the event, when there was one. */
  traceparent?: string;
  data: T;
}

export type BoundedContext = 'identity' | 'catalog' | 'inventory' | 'orders' | 'crm' | 'billing' | 'media';

/** One topic per context, keyed by aggregate id. */
export function topicOf(context: BoundedContext): string {
  return `tessera.${context}.events`;
}

export const TOPICS: Record<BoundedContext, string> = {
  identity: topicOf('identity'),
  catalog: topicOf('catalog'),
  inventory: topicOf('inventory'),
  orders: topicOf('orders'),
  crm: topicOf('crm'),
  billing: topicOf('billing'),
  media: topicOf('media'),
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a UUID in its canonical text form (ids of tenants, aggregates and events). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Whether `value` is an ISO 8601 date-time with its offset, as events carry times (`time`, `occurredAt`), and a
 * real one. A consumer that writes a time into PostgreSQL checks it first: `Date.parse` alone accepts `"1"`, which
 * PostgreSQL refuses, and a handler that fails on every redelivery holds up its whole partition.
 */
export function isIsoDateTime(value: unknown): value is string {
  return typeof value === 'string' && ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));
}

/** The first of `candidates` that is an ISO date-time (isIsoDateTime), else now. */
export function eventTimeOrNow(...candidates: unknown[]): string {
  return candidates.find(isIsoDateTime) ?? new Date().toISOString();
}
