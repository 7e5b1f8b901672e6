import { kafkaOptionsFromEnv, kafkaTopicSettingsFromEnv } from './kafka.config';

describe('kafkaOptionsFromEnv', () => {
  it('reads brokers, consumer timings and topic settings', () => {
    const opts = kafkaOptionsFromEnv(
      {
        KAFKA_BROKERS: ' a:9092, b:9092 ,',
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        KAFKA_HEARTBEAT_INTERVAL_MS: '500',
        KAFKA_TOPIC_PARTITIONS: '12',
        KAFKA_TOPIC_REPLICATION_FACTOR: '2',
      },
      'svc',
    );
    expect(opts).toEqual({
      brokers: ['a:9092', 'b:9092'],
      clientId: 'svc',
      consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 },
      topics: { numPartitions: 12, replicationFactor: 2 },
    });
  });

  it('leaves unset or empty topic settings to the transport defaults', () => {
    expect(kafkaTopicSettingsFromEnv({})).toEqual({});
    expect(kafkaTopicSettingsFromEnv({ KAFKA_TOPIC_PARTITIONS: '', KAFKA_TOPIC_REPLICATION_FACTOR: '' })).toEqual({});
  });

  it('names the bad variable', () => {
    expect(() => kafkaOptionsFromEnv({}, 'svc')).toThrow('KAFKA_BROKERS');
    expect(() => kafkaOptionsFromEnv({ KAFKA_BROKERS: 'a:1', KAFKA_SESSION_TIMEOUT_MS: 'soon' }, 'svc')).toThrow(
      'KAFKA_SESSION_TIMEOUT_MS',
    );
    for (const bad of ['0', '-3', '2.5', 'many']) {
      expect(() => kafkaOptionsFromEnv({ KAFKA_BROKERS: 'a:1', KAFKA_TOPIC_PARTITIONS: bad }, 'svc')).toThrow(
        `KAFKA_TOPIC_PARTITIONS must be a positive integer (partitions, at most 2147483647), got '${bad}'`,
      );
    }
    expect(() => kafkaTopicSettingsFromEnv({ KAFKA_TOPIC_REPLICATION_FACTOR: '0' })).toThrow('KAFKA_TOPIC_REPLICATION_FACTOR');
    // A 16-bit number on the wire.
    expect(() => kafkaTopicSettingsFromEnv({ KAFKA_TOPIC_REPLICATION_FACTOR: '40000' })).toThrow(
      "KAFKA_TOPIC_REPLICATION_FACTOR must be a positive integer (replicas, at most 32767), got '40000'",
    );
  });
});
