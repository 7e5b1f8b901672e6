import { kafkaConsumerTimingsFromEnv, kafkaTopicSettingsFromEnv } from './kafka.config';

describe('Kafka settings from the environment', () => {
  it('reads consumer timings and topic settings', () => {
    const env = {
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      KAFKA_HEARTBEAT_INTERVAL_MS: '500',
      KAFKA_TOPIC_PARTITIONS: '12',
      KAFKA_TOPIC_REPLICATION_FACTOR: '2',
    };
    expect(kafkaConsumerTimingsFromEnv(env)).toEqual({ sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 });
    expect(kafkaTopicSettingsFromEnv(env)).toEqual({ numPartitions: 12, replicationFactor: 2 });
  });

  it('leaves unset or empty topic settings to the transport defaults', () => {
    expect(kafkaTopicSettingsFromEnv({})).toEqual({});
    expect(kafkaTopicSettingsFromEnv({ KAFKA_TOPIC_PARTITIONS: '', KAFKA_TOPIC_REPLICATION_FACTOR: '' })).toEqual({});
  });

  it('names the bad variable', () => {
    expect(() => kafkaConsumerTimingsFromEnv({ KAFKA_SESSION_TIMEOUT_MS: 'soon' })).toThrow('KAFKA_SESSION_TIMEOUT_MS');
    // Longer than Node's longest timer, which would fire at once.
    expect(() => kafkaConsumerTimingsFromEnv({ KAFKA_HEARTBEAT_INTERVAL_MS: '3000000000' })).toThrow(
      "KAFKA_HEARTBEAT_INTERVAL_MS must be a positive integer (milliseconds, at most 2147483647), got '3000000000'",
    );
    for (const bad of ['0', '-3', '2.5', 'many']) {
      expect(() => kafkaTopicSettingsFromEnv({ KAFKA_TOPIC_PARTITIONS: bad })).toThrow(
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
