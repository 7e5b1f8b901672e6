import { Kafka, Partitioners, type Admin, type Producer, type RetryOptions } from 'kafkajs';
import type { EventEnvelope } from '@tessera/contracts';
import { encodeBinary } from '../core/cloudevents';
import type { ConsumerHandle, EventTransport, Subscription } from '../core/transport.port';
import { kafkaConsumerTimingsFromEnv, kafkaTopicSettingsFromEnv } from './kafka.config';
import { defaultKafkaLogSink, kafkajsLevel, kafkajsLogCreator, type KafkaLogSink } from './kafka.logger';
import { KafkaSubscription, type KafkaSubscriptionOptions } from './kafka.subscription';

/** How the transport creates a topic that does not exist yet. */
export interface KafkaTopicSettings {
  /** Partitions of a created topic (default 6, KAFKA_TOPIC_PARTITIONS). */
  numPartitions?: number;
  /** Replicas of each partition (default 3, or the number of brokers if fewer; KAFKA_TOPIC_REPLICATION_FACTOR). */
  replicationFactor?: number;
  /** How long the broker may take to create it and elect leaders (default 30 s). */
  createTimeoutMs?: number;
}

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
  /** Missing topics; partitions and replicas default to KAFKA_TOPIC_PARTITIONS / KAFKA_TOPIC_REPLICATION_FACTOR. */
  topics?: KafkaTopicSettings;
}

// Bounded so a broker outage surfaces to the relay (which backs off and retries the same batch) within seconds,
// and a consumer restarts at most ~5 s after the brokers are back.
const RETRY_DEFAULTS: RetryOptions = { initialRetryTime: 300, maxRetryTime: 5_000, retries: 5 };

const TOPIC_DEFAULTS = { numPartitions: 6, replicationFactor: 3, createTimeoutMs: 30_000 };

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
 * Topics: before the first publish to a topic, and before subscribing to topics, the transport makes sure they
 * exist. Topics that are there (provisioned out of band, or created by another service) are left as they are;
 * missing ones are created through the controller (admin.createTopics) with `topics` settings. A creator that
 * loses the race to another gets "already exists", which is fine. If a topic can be neither found nor created, the
 * publish or subscribe fails naming it (the relay backs off and retries). The producer never auto-creates, so a
 * topic's partition count never depends on a broker's `auto.create.topics.enable` defaults.
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
  private readonly topicSettings: Required<KafkaTopicSettings> & { replicationFactorSet: boolean };
  /** Topics known to exist (resolved) or being checked/created (pending); a failed attempt is forgotten. */
  private readonly topicsReady = new Map<string, Promise<void>>();

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
    const topics = { ...kafkaTopicSettingsFromEnv(process.env), ...opts.topics };
    this.topicSettings = { ...TOPIC_DEFAULTS, ...topics, replicationFactorSet: topics.replicationFactor !== undefined };
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    await this.admin.connect();
    await this.pingAdmin.connect();
  }

  /** Resolves once every message is acknowledged by all in-sync replicas; throws otherwise (caller retries). */
  async publish(topic: string, events: EventEnvelope[]): Promise<void> {
    if (events.length === 0) return;
    await this.ensureTopics([topic]);
    await this.send(topic, events).catch((e: unknown) => {
      // The topic may have been deleted since it was checked: the next attempt (the relay retries) checks again.
      this.topicsReady.delete(topic);
      throw e;
    });
  }

  private async send(topic: string, events: EventEnvelope[]): Promise<void> {
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
    await this.ensureTopics(subscription.topics);
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

  /**
   * Makes sure `topics` exist: those already there are left alone, missing ones are created with the configured
   * partitions and replicas. Checked once per topic and transport; a failure is not remembered, so the next call
   * tries again. Throws naming the topic when it can be neither found nor created.
   */
  async ensureTopics(topics: string[]): Promise<void> {
    const missing = [...new Set(topics)].filter((t) => !this.topicsReady.has(t));
    if (missing.length > 0) {
      const attempt = this.createMissingTopics(missing);
      for (const topic of missing) {
        const ready = attempt.then((failed) => {
          const err = failed.get(topic);
          if (err) throw err;
        });
        this.topicsReady.set(topic, ready);
        ready.catch(() => {
          if (this.topicsReady.get(topic) === ready) this.topicsReady.delete(topic);
        });
      }
    }
    await Promise.all(topics.map((t) => this.topicsReady.get(t)));
  }

  /** Creates those of `topics` that the cluster does not list; resolves with the errors of the ones that failed. */
  private async createMissingTopics(topics: string[]): Promise<Map<string, Error>> {
    const failed = new Map<string, Error>();
    let existing: Set<string>;
    try {
      // Metadata for all topics: unlike asking for the topics by name, this never auto-creates them.
      existing = new Set(await this.admin.listTopics());
    } catch (e) {
      for (const t of topics) failed.set(t, new Error(`kafka: cannot tell whether topic ${t} exists: ${errorText(e)}`));
      return failed;
    }
    const toCreate = topics.filter((t) => !existing.has(t));
    if (toCreate.length === 0) return failed;
    const { numPartitions, createTimeoutMs } = this.topicSettings;
    let replicationFactor = this.topicSettings.replicationFactor;
    try {
      if (!this.topicSettings.replicationFactorSet) {
        // The default (3) would be refused by a smaller cluster, e.g. one broker on a developer's machine.
        const { brokers } = await this.admin.describeCluster();
        replicationFactor = Math.max(1, Math.min(replicationFactor, brokers.length));
      }
    } catch (e) {
      for (const t of toCreate) failed.set(t, new Error(`kafka: cannot create topic ${t}: ${errorText(e)}`));
      return failed;
    }
    // One topic per request: kafkajs reports "already exists" as success (false) only when every topic of the
    // request already existed, and waits for leaders only for requests that created everything.
    await Promise.all(
      toCreate.map(async (topic) => {
        try {
          const created = await this.admin.createTopics({
            topics: [{ topic, numPartitions, replicationFactor }],
            waitForLeaders: true,
            timeout: createTimeoutMs,
          });
          this.log.info(
            { topic, numPartitions, replicationFactor, created },
            created ? `created topic ${topic}` : `topic ${topic} was created meanwhile by another client`,
          );
        } catch (e) {
          failed.set(
            topic,
            new Error(
              `kafka: topic ${topic} does not exist and could not be created (${numPartitions} partitions, ` +
                `replication factor ${replicationFactor}): ${errorText(e)}`,
            ),
          );
        }
      }),
    );
    return failed;
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

/** kafkajs' aggregate errors (one per topic) carry the broker's reasons in `errors`. */
function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const inner = (e as Error & { errors?: unknown[] }).errors;
  if (Array.isArray(inner) && inner.length > 0) {
    return `${e.message}: ${inner.map((x) => (x instanceof Error ? x.message : String(x))).join('; ')}`;
  }
  return e.message;
}
