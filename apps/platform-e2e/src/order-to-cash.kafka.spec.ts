import { TOPICS } from '@tessera/contracts';
import { startKafkaMock, type KafkaMockCluster } from '@tessera/testing';
import { describeOrderToCash } from './order-to-cash';

// The same saga with KAFKA_BROKERS set: every service publishes and consumes through kafkajs against librdkafka's
// mock cluster (3 brokers). The mock does not auto-create topics for these clients, so they are made up front,
// as a cluster's topic provisioning would.
let cluster: KafkaMockCluster | undefined;

afterAll(async () => {
  await cluster?.stop();
});

describeOrderToCash('kafka', async () => {
  cluster = await startKafkaMock({
    brokers: 3,
    topics: Object.values(TOPICS).map((name) => ({ name, partitions: 6 })),
  });
  return { KAFKA_BROKERS: cluster.brokers.join(',') };
});
