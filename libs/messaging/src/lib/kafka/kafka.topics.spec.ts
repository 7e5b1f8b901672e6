import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { EventEnvelope } from '@tessera/contracts';
import { startKafkaMock, type KafkaMockCluster } from '@tessera/testing';
import { createEnvelope } from '../core/cloudevents';
import type { KafkaLogSink } from './kafka.logger';
import { KafkaTransport, type KafkaTopicSettings } from './kafka.transport';

// Topic creation by the transport. librdkafka's mock has no CreateTopics API and no real controller, so these
// clusters run with the harness's `createTopicsApi`: a protocol proxy answers CreateTopics by creating the topic in
// the mock (libs/testing/src/kafka/create-topics-proxy.ts). No topic is created up front unless a test says so. The
// mock would auto-create a topic that a client asks metadata for by name (with 4 partitions), so the tests use
// other partition counts to tell the transport's topics from accidental ones.

jest.setTimeout(90_000);

const newTopic = () => `tessera.topics${randomUUID().slice(0, 8)}.events`;

function event(n: number): EventEnvelope {
  return createEnvelope({
    source: 'topics',
    type: 'topics.thing.happened',
    subject: randomUUID(),
    tenantId: '00000000-0000-4000-8000-000000000001',
    data: { n },
  });
}

interface Recorded {
  level: string;
  obj: object;
  msg: string;
}

function recordingSink(into: Recorded[]): KafkaLogSink {
  const at = (level: string) => (obj: object, msg: string) => into.push({ level, obj, msg });
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: () => undefined };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('KafkaTransport creates missing topics', () => {
  const clusters: KafkaMockCluster[] = [];
  const transports: KafkaTransport[] = [];

  async function cluster(opts: { brokers: number; createTopicsApi: boolean }): Promise<KafkaMockCluster> {
    const c = await startKafkaMock(opts);
    clusters.push(c);
    return c;
  }

  async function connected(c: KafkaMockCluster, topics: KafkaTopicSettings = { numPartitions: 5 }, log: Recorded[] = []) {
    const t = new KafkaTransport({
      brokers: c.brokers,
      clientId: 'topics-spec',
      logger: recordingSink(log),
      consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 },
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 2 },
      topics,
    });
    transports.push(t);
    await t.connect();
    return t;
  }

  async function describeTopics(c: KafkaMockCluster): Promise<Map<string, number>> {
    const admin = new Kafka({ clientId: 'topics-spec-admin', brokers: c.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      // Metadata for all topics: asking for one by name would make the mock create it.
      const { topics } = await admin.fetchTopicMetadata();
      return new Map(topics.map((t) => [t.name, t.partitions.length]));
    } finally {
      await admin.disconnect();
    }
  }

  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
    await Promise.all(clusters.map((c) => c.stop()));
  });

  it('on a cluster without topics, creates the topic on first publish with the configured partitions; publish and consume work', async () => {
    const c = await cluster({ brokers: 3, createTopicsApi: true });
    expect(await describeTopics(c)).toEqual(new Map());
    const log: Recorded[] = [];
    const publisher = await connected(c, { numPartitions: 5 }, log);
    const topic = newTopic();

    const sent = [event(1), event(2), event(3)];
    await publisher.publish(topic, sent);
    expect((await describeTopics(c)).get(topic)).toBe(5);
    expect(log.filter((l) => l.msg === `created topic ${topic}`)).toHaveLength(1);

    const consumerSide = await connected(c);
    const got: EventEnvelope[] = [];
    const handle = await consumerSide.subscribe({
      groupId: `g-${randomUUID()}`,
      topics: [topic],
      handle: async (e) => {
        got.push(e);
      },
    });
    await waitFor('the three events', () => got.length === 3);
    await handle.stop();
    expect(new Set(got.map((e) => e.id))).toEqual(new Set(sent.map((e) => e.id)));

    // Known to exist now: later publishes do not create it again.
    await publisher.publish(topic, [event(4)]);
    expect(log.filter((l) => l.msg.endsWith(`topic ${topic}`) || l.msg.includes(`topic ${topic} was created`))).toHaveLength(1);
  });

  it('creates the topics a subscription reads before the consumer joins, so it gets events published later', async () => {
    const c = await cluster({ brokers: 3, createTopicsApi: true });
    const topic = newTopic();
    const consumerSide = await connected(c, { numPartitions: 3 });
    const got: EventEnvelope[] = [];
    const handle = await consumerSide.subscribe({
      groupId: `g-${randomUUID()}`,
      topics: [topic],
      handle: async (e) => {
        got.push(e);
      },
    });
    expect((await describeTopics(c)).get(topic)).toBe(3);
    const publisher = await connected(c, { numPartitions: 7 });
    const sent = [event(1), event(2)];
    await publisher.publish(topic, sent);
    await waitFor('both events', () => got.length === 2);
    await handle.stop();
    // The publisher found it and left it as it was.
    expect((await describeTopics(c)).get(topic)).toBe(3);
  });

  it('tolerates concurrent creators: every publisher succeeds, exactly one creates the topic', async () => {
    const c = await cluster({ brokers: 3, createTopicsApi: true });
    const topic = newTopic();
    const log: Recorded[] = [];
    const publishers = await Promise.all([1, 2, 3, 4].map(() => connected(c, { numPartitions: 5 }, log)));
    await Promise.all(publishers.map((p, i) => p.publish(topic, [event(i)])));
    expect((await describeTopics(c)).get(topic)).toBe(5);
    // The others found it listed already, or lost the race and were told it exists (kafkajs' "already exists").
    expect(log.filter((l) => l.msg === `created topic ${topic}`)).toHaveLength(1);
  });

  it('leaves an existing topic as it is', async () => {
    const c = await cluster({ brokers: 3, createTopicsApi: true });
    const topic = newTopic();
    await c.createTopic(topic, 2);
    const log: Recorded[] = [];
    const publisher = await connected(c, { numPartitions: 5 }, log);
    await publisher.publish(topic, [event(1)]);
    expect((await describeTopics(c)).get(topic)).toBe(2);
    expect(log.filter((l) => l.msg.includes(`topic ${topic}`))).toEqual([]);
  });

  it('fits the default replication factor to a smaller cluster; an explicit one the cluster cannot hold fails naming the topic', async () => {
    const c = await cluster({ brokers: 2, createTopicsApi: true });
    const fits = newTopic();
    await (await connected(c, {})).publish(fits, [event(1)]);
    // The default partition count.
    expect((await describeTopics(c)).get(fits)).toBe(6);

    const tooMany = newTopic();
    const strict = await connected(c, { replicationFactor: 3 });
    await expect(strict.publish(tooMany, [event(1)])).rejects.toThrow(
      new RegExp(`topic ${tooMany.replace(/\./g, '\\.')} does not exist and could not be created .*replication factor 3`),
    );
    expect((await describeTopics(c)).has(tooMany)).toBe(false);
  });

  it('without a CreateTopics API (the bare mock, no controller) a publish to a missing topic fails naming it and creates nothing', async () => {
    const c = await cluster({ brokers: 3, createTopicsApi: false });
    const topic = newTopic();
    const publisher = await connected(c);
    await expect(publisher.publish(topic, [event(1)])).rejects.toThrow(`topic ${topic} does not exist and could not be created`);
    // Not auto-created by the producer asking for its metadata either.
    expect((await describeTopics(c)).has(topic)).toBe(false);

    // Once it exists (provisioned out of band), the next attempt goes through: the failure was not remembered.
    await c.createTopic(topic, 3);
    await publisher.publish(topic, [event(2)]);
  });
});
