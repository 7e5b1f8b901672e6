import { Kafka, logLevel } from 'kafkajs';
import { kafkaAvailable, startKafkaMock, type KafkaMockCluster } from './kafka-harness';

jest.setTimeout(60_000);

describe('Kafka mock cluster harness', () => {
  let cluster: KafkaMockCluster;

  beforeAll(async () => {
    cluster = await startKafkaMock({ brokers: 3, topics: [{ name: 'harness.a', partitions: 5 }] });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const admin = () =>
    new Kafka({
      brokers: cluster.brokers,
      clientId: 'harness-spec',
      logLevel: logLevel.NOTHING,
      retry: { retries: 1, initialRetryTime: 100 },
    }).admin();

  it('reports the toolchain as available (CI installs gcc and librdkafka-dev)', () => {
    const status = kafkaAvailable();
    expect(status).toEqual({ available: true, reason: expect.stringContaining('mock-cluster') });
  });

  it('starts the requested brokers with the requested topics, and creates more on demand', async () => {
    expect(cluster.brokers).toHaveLength(3);
    await cluster.createTopic('harness.b', 7);
    const a = admin();
    await a.connect();
    try {
      const { brokers } = await a.describeCluster();
      expect(brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3]);
      const { topics } = await a.fetchTopicMetadata({ topics: ['harness.a', 'harness.b'] });
      expect(Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]))).toEqual({
        'harness.a': 5,
        'harness.b': 7,
      });
    } finally {
      await a.disconnect();
    }
  });

  it('takes brokers down and up', async () => {
    await cluster.brokerDown('all');
    try {
      await expect(admin().connect()).rejects.toThrow();
    } finally {
      await cluster.brokerUp('all');
    }
    const a = admin();
    await a.connect();
    await a.disconnect();
    await expect(cluster.brokerDown(99)).rejects.toThrow('broker id must be 1..3');
    await expect(cluster.createTopic('bad name', 1)).rejects.toThrow('invalid topic name');
  });
});
