import { Kafka, Partitioners, type Admin, type Producer, type RetryOptions } from 'kafkajs';
import type { EventEnvelope } from '@tessera/contracts';
import { encodeBinary } from '../core/cloudevents';
import type { ConsumerHandle, EventTransport, Subscription } from '../core/transport.port';
import { kafkaConsumerTimingsFromEnv } from './kafka.config';
import { defaultKafkaLogSink, kafkajsLevel, kafkajsLogCreator, type KafkaLogSink } from './kafka.logger';
import { KafkaSubscription, type KafkaSubscriptionOptions } from './kafka.subscription';

export interface KafkaTransportOptions {
  brokers: string[];
  clientId: string;
  /** pino-compatible sink for kafkajs' own logs and ours; default: pino JSON at LOG_LEVEL (warn). */
  logger?: KafkaLogSink;
  /** pino level name deciding what kafkajs logs at all; default LOG_LEVEL or `warn`. */
  logLevel?: string;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Upper bound for ping(), so a readiness probe answers even while every broker is away. */
  pingTimeoutMs?: number;
  /** kafkajs retry policy for every request; also how fast a crashed consumer restarts. */
  retry?: RetryOptions;
  /** Consumer tuning; session and heartbeat default to KAFKA_SESSION_TIMEOUT_MS / KAFKA_HEARTBEAT_INTERVAL_MS. */
  consumer?: Partial<KafkaSubscriptionOptions>;
}

// Bounded so a broker outage surfaces to the relay (which backs off and retries the same batch) within seconds,
// and a consumer restarts at most ~5 s after the brokers are back.
const RETRY_DEFAULTS: RetryOptions = { initialRetryTime: 300, maxRetryTime: 5_000, retries: 5 };

const CONSUMER_DEFAULTS: KafkaSubscriptionOptions = {
  partitionsConsumedConcurrently: 8,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  // A real broker answers a waiting fetch as soon as data arrives; librdkafka's mock cluster only at the end of
  // the wait, so this bounds delivery latency there. 100 ms keeps idle polling cheap either way.
  maxWaitTimeMs: 100,
  retryBackoffMs: { min: 100, max: 5_000 },
  restartDelayMs: 1_000,
  // Like the postgres transport's read size: long enough to amortize a commit, short enough to hold locks briefly.
  maxBatchEvents: 100,
};

/**
 * The `kafka` EventTransport (kafkajs). Events travel in CloudEvents binary mode (`ce_` headers, JSON value),
 * keyed by `partitionkey`, so one aggregate's events share a partition and keep their order.
 *
 * Producer: acks=all and one request in flight per broker, so a retried batch cannot overtake the next one.
 * Not idempotent and not transactional: kafkajs marks its idempotent producer experimental, and both need the
 * controller, which the librdkafka mock cluster used in tests does not expose. Duplicates from a retried send
 * are fine: delivery is at least once and consumers deduplicate through the inbox.
 *
 * Topics are not created here (admin.createTopics needs the controller): in production they are provisioned
 * out of band (k8s topic manifests, `tessera.<context>.events`); in tests the Kafka harness creates them.
 */
export class KafkaTransport implements EventTransport {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly pingAdmin: Admin;
  private readonly log: KafkaLogSink;
  private readonly consumerOptions: KafkaSubscriptionOptions;
  private readonly subscriptions = new Set<KafkaSubscription>();

  constructor(private readonly opts: KafkaTransportOptions) {
    this.log = opts.logger ?? defaultKafkaLogSink();
    const client = (retry: RetryOptions, connectionTimeout: number) =>
      new Kafka({
        clientId: opts.clientId,
        brokers: opts.brokers,
        connectionTimeout,
        requestTimeout: opts.requestTimeoutMs ?? 30_000,
        retry,
        logLevel: kafkajsLevel(opts.logLevel ?? process.env.LOG_LEVEL),
        logCreator: kafkajsLogCreator(this.log),
      });
    const connectionTimeout = opts.connectionTimeoutMs ?? 3_000;
    this.kafka = client({ ...RETRY_DEFAULTS, ...opts.retry }, connectionTimeout);
    this.producer = this.kafka.producer({
      idempotent: false,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // The Java client's murmur2 partitioner: the same key lands on the same partition as from any other client.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.admin = this.kafka.admin();
    // A client of its own without retries: a probe answers now, and a timed-out ping leaves no reconnect loop
    // behind (kafkajs' seed-broker retries follow the client's policy and outlive disconnect()).
    this.pingAdmin = client({ retries: 0 }, Math.min(connectionTimeout, opts.pingTimeoutMs ?? 5_000)).admin();
    // Explicit options win; the environment fills in what the caller left out (createTransport passes brokers only).
    this.consumerOptions = { ...CONSUMER_DEFAULTS, ...kafkaConsumerTimingsFromEnv(process.env), ...opts.consumer };
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    await this.admin.connect();
    await this.pingAdmin.connect();
  }

  /** Resolves once every message is acknowledged by all in-sync replicas; throws otherwise (caller retries). */
  async publish(topic: string, events: EventEnvelope[]): Promise<void> {
    if (events.length === 0) return;
    await this.producer.send({
      topic,
      acks: -1,
      messages: events.map((e) => {
        const m = encodeBinary(e);
        // The record timestamp is the event time (retention and time-based seeks follow it); now if unparsable.
        const time = Date.parse(e.time);
        return {
          key: m.key,
          value: m.value,
          headers: m.headers,
          timestamp: String(Number.isNaN(time) ? Date.now() : time),
        };
      }),
    });
  }

  async subscribe(subscription: Subscription): Promise<ConsumerHandle> {
    const sub = new KafkaSubscription(this.kafka, this.admin, subscription, this.consumerOptions, this.log);
    this.subscriptions.add(sub);
    try {
      await sub.start();
    } catch (e) {
      this.subscriptions.delete(sub);
      await sub.stop().catch(() => undefined);
      throw e;
    }
    return {
      stop: async () => {
        this.subscriptions.delete(sub);
        await sub.stop();
      },
      lag: () => sub.lag(),
      assignment: () => sub.assignment(),
    };
  }

  async close(): Promise<void> {
    const subs = [...this.subscriptions];
    this.subscriptions.clear();
    await Promise.all(subs.map((s) => s.stop()));
    await this.producer.disconnect();
    await this.admin.disconnect();
    await this.pingAdmin.disconnect();
  }

  /** Asks a broker for cluster metadata (not the controller, which the mock cluster lacks). */
  async ping(): Promise<void> {
    const timeoutMs = this.opts.pingTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`kafka: no broker answered within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const { brokers } = await Promise.race([this.pingAdmin.describeCluster(), timeout]);
      if (brokers.length === 0) throw new Error('kafka: cluster metadata lists no broker');
    } finally {
      clearTimeout(timer);
    }
  }
}
