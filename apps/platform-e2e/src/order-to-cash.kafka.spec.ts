import { TOPICS } from '@tessera/contracts';
import { Kafka, logLevel } from 'kafkajs';
import { startKafkaMock, type KafkaMockCluster } from '@tessera/testing';
import { kafkaEventLog } from './event-log';
import { describeOrderToCash } from './order-to-cash';

// The same saga with KAFKA_BROKERS set: every service publishes and consumes through kafkajs against librdkafka's
// mock cluster (3 brokers). The mock does not auto-create topics for these clients, so they are made up front,
// as a cluster's topic provisioning would.
let cluster: KafkaMockCluster | undefined;

afterAll(async () => {
  await cluster?.stop();
});

describeOrderToCash(
  'kafka',
  async () => {
    cluster = await startKafkaMock({
      brokers: 3,
      topics: Object.values(TOPICS).map((name) => ({ name, partitions: 6 })),
    });
    return { KAFKA_BROKERS: cluster.brokers.join(',') };
  },
  {
    // Redelivery the Kafka way: offsets reset while the groups are empty, copies produced with the same headers.
    eventLog: kafkaEventLog(() => cluster?.brokers ?? []),
    carried: async () => {
      // Every context of the saga wrote to its topic on the mock brokers (the postgres log would leave them empty).
      const admin = new Kafka({ clientId: 'e2e-check', brokers: cluster?.brokers ?? [], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        for (const topic of [TOPICS.catalog, TOPICS.inventory, TOPICS.orders, TOPICS.billing]) {
          const offsets = await admin.fetchTopicOffsets(topic);
          expect({ topic, messages: offsets.reduce((n, p) => n + Number(p.high), 0) > 0 }).toEqual({ topic, messages: true });
        }
      } finally {
        await admin.disconnect();
      }
    },
  },
);
