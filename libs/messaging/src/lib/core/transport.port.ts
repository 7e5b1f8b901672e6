import type { EventEnvelope } from '@tessera/contracts';

/**
 * The one port both transports implement (`kafka` via kafkajs, `postgres` via a durable log table).
 * Contract (proved by the shared contract suite against both):
 *  - publish() resolves only once every message is durably accepted (Kafka acks=all / log committed);
 *    messages with the same key keep their order within one call and across calls.
 *  - within one consumer group each message is handled by one member; per-key order is kept;
 *  - delivery is at least once: an offset is committed only after the handler resolved, so a handler
 *    that throws or a member that dies sees the message again. Consumers deduplicate through the inbox.
 */
export interface EventTransport {
  readonly kind: 'kafka' | 'postgres';
  connect(): Promise<void>;
  publish(topic: string, events: EventEnvelope[]): Promise<void>;
  subscribe(subscription: Subscription): Promise<ConsumerHandle>;
  /** Stops consumers (letting in-flight handlers finish) and closes connections. */
  close(): Promise<void>;
  /** For /health/ready: throws when the transport cannot currently reach its broker or database. */
  ping(): Promise<void>;
}

export interface Subscription {
  groupId: string;
  topics: string[];
  /**
   * Called in order per partition. Throwing means "not handled": the transport retries with backoff
   * and does not move past the message.
   */
  handle(event: EventEnvelope, meta: DeliveryMeta): Promise<void>;
  /**
   * Optional: the messages fetched for ONE partition, in offset order, handled together (e.g. in one database
   * transaction). The transport commits the offsets only after it resolved. Throwing means "not all handled":
   * the transport then handles the same messages one by one through `handle` (retrying the failing one with
   * backoff, never moving past it), so a prefix that was already applied comes back as inbox duplicates.
   */
  handleBatch?(events: DeliveredEvent[]): Promise<void>;
  /**
   * Optional: awaited before this member handles anything of partitions it was just given (a start, a rebalance), so
   * that the consumer can catch up on what the previous owner did (EventsServer: the keys it parked). Throwing
   * means "not ready": the transport retries before handling.
   */
  beforeAssigned?(): Promise<void>;
}

export interface DeliveredEvent {
  event: EventEnvelope;
  meta: DeliveryMeta;
}

export interface DeliveryMeta {
  topic: string;
  partition: number;
  offset: string;
}

export interface ConsumerHandle {
  stop(): Promise<void>;
  /** Messages published but not yet committed by this group, summed over partitions (for metrics). */
  lag(): Promise<number>;
  /** Optional diagnostics: the partitions this member owns now, as `topic/partition`. */
  assignment?(): string[];
}
