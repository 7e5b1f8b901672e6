import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { EventEnvelope } from '@tessera/contracts';
import { decodeBinary } from '../core/cloudevents';
import type { ConsumerHandle, DeliveredEvent, Subscription } from '../core/transport.port';
import type { KafkaLogSink } from './kafka.logger';

export interface KafkaSubscriptionOptions {
  /** Partitions of this member handled at the same time (order is per partition, so this is safe). */
  partitionsConsumedConcurrently: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Longest a fetch waits for new messages; also bounds how long stop() waits for an idle fetch. */
  maxWaitTimeMs: number;
  /** Backoff between attempts of a failing handler: doubles from `min` up to `max`. */
  retryBackoffMs: { min: number; max: number };
  /** Most messages given to one `handleBatch` call (one database transaction in the consumer). */
  maxBatchEvents: number;
  /** How long to wait before recreating a consumer that kafkajs gave up on. */
  restartDelayMs: number;
}

/** Attempts of a failing handler made in place, within one fetched batch, before its partition is paused. */
const IN_PLACE_ATTEMPTS = 3;

/**
 * One consumer group member for one subscription. Delivery is at least once and in order per partition:
 * an offset is resolved (and so committed) only after the handler resolved for that message; a handler that
 * throws is retried with backoff until it succeeds, the partition is revoked or the subscription stops; the message
 * is never skipped. The first attempts are made in place (heartbeating meanwhile); after that the partition is
 * paused for the backoff and the batch ends unresolved, so kafkajs fetches it again from the failing message on
 * resume. Ending the batch matters: kafkajs fetches again from a broker only once every batch of its last fetch
 * has ended, so a handler retried in place forever would stall every partition this member reads from that broker.
 * kafkajs may still deliver a message twice after a rebalance or a crash; the inbox absorbs that.
 */
export class KafkaSubscription implements ConsumerHandle {
  private consumer: Consumer | undefined;
  private stopping = false;
  private readonly wake = new AbortController();
  private restartTimer: NodeJS.Timeout | undefined;
  private assigned: string[] = [];
  /** The failing message of each partition (`topic/partition`) and how many attempts it has had, across pauses. */
  private readonly failing = new Map<string, { offset: string; attempts: number }>();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  /** Bumped at every join (a new assignment); `prepared` is the join beforeAssigned last completed for. */
  private joins = 0;
  private prepared = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly sub: Subscription,
    private readonly opts: KafkaSubscriptionOptions,
    private readonly log: KafkaLogSink,
  ) {}

  /** Resolves once this member has joined its group and received its partitions. */
  async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.sub.groupId,
      sessionTimeout: this.opts.sessionTimeoutMs,
      heartbeatInterval: this.opts.heartbeatIntervalMs,
      maxWaitTimeInMs: this.opts.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      // kafkajs restarts by itself after retriable errors; this covers the rest (see onCrash).
      retry: { restartOnFailure: async () => true },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.assigned = [];
      if (!payload.restart) this.scheduleRestart(consumer, payload.error);
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.joins++;
      this.assigned = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
        partitions.map((p) => `${topic}/${p}`),
      );
    });
    try {
      await consumer.connect();
      // A group without committed offsets starts at the oldest retained event: read models build from history.
      await consumer.subscribe({ topics: this.sub.topics, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently,
        eachBatchAutoResolve: false,
        // Resolved offsets are committed after every batch, and at most once a second inside a long batch.
        autoCommit: true,
        autoCommitInterval: 1000,
        eachBatch: (payload) => this.eachBatch(payload),
      });
    } catch (e) {
      await consumer.disconnect().catch(() => undefined);
      throw e;
    }
    // stop() may have run while we were joining; it then disconnected an earlier consumer or none.
    if (this.stopping) await consumer.disconnect();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    clearTimeout(this.restartTimer);
    for (const timer of this.resumeTimers) clearTimeout(timer);
    this.resumeTimers.clear();
    // kafkajs waits for the batch in progress, commits what was resolved, then leaves the group.
    await this.consumer?.disconnect();
    this.assigned = [];
  }

  /** The partitions this member was given at its last join, as `topic/partition`. */
  assignment(): string[] {
    return [...this.assigned];
  }

  async lag(): Promise<number> {
    const committed = await this.admin.fetchOffsets({
      groupId: this.sub.groupId,
      topics: this.sub.topics,
    });
    let lag = 0;
    for (const { topic, partitions } of committed) {
      const ends = await this.admin.fetchTopicOffsets(topic);
      for (const end of ends) {
        const done = partitions.find((p) => p.partition === end.partition);
        const from = done && Number(done.offset) >= 0 ? Number(done.offset) : Number(end.low);
        lag += Math.max(0, Number(end.high) - from);
      }
    }
    return lag;
  }

  // A consumer kafkajs will not restart itself (a non-retriable error) is replaced by a fresh one.
  private scheduleRestart(crashed: Consumer, error: Error): void {
    if (this.stopping || crashed !== this.consumer) return;
    this.log.error({ groupId: this.sub.groupId, err: error }, 'kafka consumer crashed; recreating it');
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.start().catch((e: Error) => this.scheduleRestart(this.consumer as Consumer, e));
    }, this.opts.restartDelayMs);
  }

  private async eachBatch(p: EachBatchPayload): Promise<void> {
    if (this.sub.beforeAssigned && this.prepared !== this.joins) {
      const join = this.joins;
      // Throwing ends the batch unresolved: kafkajs fetches it again, and this runs again first.
      await this.sub.beforeAssigned();
      this.prepared = join;
    }
    const messages = p.batch.messages;
    // With a batch handler, the fetched messages go in chunks (one database transaction each); a chunk that fails
    // is redone message by message from its first message, so the failing one is retried in place, then batching
    // resumes with the next chunk. Without one, the whole fetch goes message by message.
    const size = this.sub.handleBatch ? this.opts.maxBatchEvents : messages.length;
    for (let from = 0; from < messages.length; from += size) {
      if (!p.isRunning() || p.isStale()) return;
      const chunk = messages.slice(from, from + size);
      if (this.sub.handleBatch && (await this.handleChunk(chunk, p))) {
        p.resolveOffset(chunk[chunk.length - 1].offset);
        await p.commitOffsetsIfNecessary();
        await p.heartbeat();
      } else if (!(await this.handleOneByOne(chunk, p))) {
        return;
      }
    }
  }

  /** False when the partition was taken away or we are stopping (the rest stays unresolved). */
  private async handleOneByOne(messages: KafkaMessage[], p: EachBatchPayload): Promise<boolean> {
    const { topic, partition } = p.batch;
    for (const message of messages) {
      if (!p.isRunning() || p.isStale()) return false;
      const event = this.decode(topic, partition, message);
      if (event) {
        const handled = await this.handleUntilDone(event, { topic, partition, offset: message.offset }, p);
        if (!handled) return false;
      }
      p.resolveOffset(message.offset);
      await p.commitOffsetsIfNecessary();
      await p.heartbeat();
    }
    return true;
  }

  /** One chunk through the batch handler; false when it failed (the caller then goes message by message). */
  private async handleChunk(chunk: KafkaMessage[], p: EachBatchPayload): Promise<boolean> {
    const { topic, partition } = p.batch;
    const events: DeliveredEvent[] = [];
    for (const message of chunk) {
      const event = this.decode(topic, partition, message);
      if (event) events.push({ event, meta: { topic, partition, offset: message.offset } });
    }
    if (events.length === 0) return true;
    const handleBatch = this.sub.handleBatch?.bind(this.sub);
    if (!handleBatch) return false;
    try {
      await this.withHeartbeats(p, () => handleBatch(events));
      return true;
    } catch (e) {
      if (e instanceof GroupLeftError) throw e.cause;
      const first = events[0].meta;
      this.log.warn(
        { groupId: this.sub.groupId, ...first, count: events.length, err: e },
        'batch handler failed; handling the batch message by message',
      );
      return false;
    }
  }

  /**
   * Runs the handler until it succeeds; false when the partition was taken away, we are stopping, or the partition
   * was paused to retry later (the rest of the batch stays unresolved in every case).
   */
  private async handleUntilDone(
    event: EventEnvelope,
    meta: { topic: string; partition: number; offset: string },
    p: EachBatchPayload,
  ): Promise<boolean> {
    const key = `${meta.topic}/${meta.partition}`;
    const known = this.failing.get(key);
    // The backoff goes on growing across pauses while the same message keeps failing.
    let attempt = known?.offset === meta.offset ? known.attempts : 0;
    for (let inPlace = 1; ; attempt++, inPlace++) {
      try {
        await this.withHeartbeats(p, () => this.sub.handle(event, meta));
        this.failing.delete(key);
        return true;
      } catch (e) {
        if (e instanceof GroupLeftError) throw e.cause;
        this.log.warn(
          {
            groupId: this.sub.groupId,
            ...meta,
            eventId: event.id,
            type: event.type,
            attempt,
            err: e,
          },
          'event handler failed; retrying',
        );
      }
      this.failing.set(key, { offset: meta.offset, attempts: attempt + 1 });
      const delay = Math.min(this.opts.retryBackoffMs.max, this.opts.retryBackoffMs.min * 2 ** attempt);
      if (inPlace >= IN_PLACE_ATTEMPTS) {
        if (this.stopping) return false;
        const resume = p.pause();
        const timer = setTimeout(() => {
          this.resumeTimers.delete(timer);
          resume();
        }, delay);
        this.resumeTimers.add(timer);
        return false;
      }
      await sleep(delay, this.wake.signal);
      if (!p.isRunning() || p.isStale() || this.stopping) return false;
      // Keeps the membership alive while a handler keeps failing; throws on rebalance, which ends the batch.
      await p.heartbeat();
    }
  }

  /**
   * kafkajs heartbeats between messages and from idle fetches only; when nothing else is being fetched, a handler
   * slower than the session timeout would get the member evicted. This keeps heartbeating while it runs. If the group started rebalancing meanwhile, the handler's
   * result stands (its effect is committed through the inbox) but the offset is not resolved: the rebalance error
   * is rethrown so kafkajs rejoins, and the next owner's redelivery is a duplicate the inbox absorbs.
   */
  private async withHeartbeats(p: EachBatchPayload, fn: () => Promise<void>): Promise<void> {
    let groupError: unknown;
    const timer = setInterval(() => {
      p.heartbeat().catch((e: unknown) => (groupError ??= e));
    }, this.opts.heartbeatIntervalMs);
    try {
      await fn();
    } finally {
      clearInterval(timer);
    }
    if (groupError !== undefined) throw new GroupLeftError(groupError);
  }

  // A message that is not a CloudEvent can never be handled: it is logged and passed over, not retried forever.
  private decode(topic: string, partition: number, message: KafkaMessage): EventEnvelope | undefined {
    try {
      return decodeBinary(message);
    } catch (e) {
      this.log.error(
        {
          groupId: this.sub.groupId,
          topic,
          partition,
          offset: message.offset,
          err: e,
        },
        'undecodable message skipped',
      );
      return undefined;
    }
  }
}

/** The handler ran, but the member's group membership changed meanwhile: the batch must end unresolved. */
class GroupLeftError extends Error {
  constructor(override readonly cause: unknown) {
    super('consumer group changed while a handler was running');
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
