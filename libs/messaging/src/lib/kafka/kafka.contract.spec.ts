import pino from 'pino';
import { startKafkaMock } from '@tessera/testing';
import { describeTransportContract } from '../testing/transport-contract';
import { KafkaTransport } from './kafka.transport';

// The shared messaging contract against a 3-broker librdkafka mock cluster; an outage takes every broker down.
describeTransportContract('kafka', async () => {
  const cluster = await startKafkaMock({ brokers: 3 });
  const quiet = pino({ level: 'silent' });
  return {
    transport: () =>
      new KafkaTransport({
        brokers: cluster.brokers,
        clientId: 'contract',
        logger: quiet,
        // The mock's coordinator waits session timeout - 1 s for members to rejoin: keep rebalances short.
        consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 },
        // Outages surface to the relay and consumers restart within about a second, so the outage case stays short.
        retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 3 },
      }),
    childEnv: {
      KAFKA_BROKERS: cluster.brokers.join(','),
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      KAFKA_HEARTBEAT_INTERVAL_MS: '500',
      LOG_LEVEL: 'error',
    },
    makeUnavailable: () => cluster.brokerDown('all'),
    restore: () => cluster.brokerUp('all'),
    createTopic: (topic) => cluster.createTopic(topic, 8),
    cleanup: () => cluster.stop(),
  };
});
