import type { KafkaTopicSettings, KafkaTransportOptions } from './kafka.transport';

function positiveInt(env: NodeJS.ProcessEnv, name: string, unit: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > max)
    throw new Error(`${name} must be a positive integer (${unit}${max < Number.MAX_SAFE_INTEGER ? `, at most ${max}` : ''}), got '${raw}'`);
  return n;
}

/** Consumer group timings set in the environment (`KAFKA_SESSION_TIMEOUT_MS`, `KAFKA_HEARTBEAT_INTERVAL_MS`). */
export function kafkaConsumerTimingsFromEnv(env: NodeJS.ProcessEnv): NonNullable<KafkaTransportOptions['consumer']> {
  const consumer: NonNullable<KafkaTransportOptions['consumer']> = {};
  // Timers: Node fires a longer delay after 1 ms instead.
  const session = positiveInt(env, 'KAFKA_SESSION_TIMEOUT_MS', 'milliseconds', 2_147_483_647);
  const heartbeat = positiveInt(env, 'KAFKA_HEARTBEAT_INTERVAL_MS', 'milliseconds', 2_147_483_647);
  if (session !== undefined) consumer.sessionTimeoutMs = session;
  if (heartbeat !== undefined) consumer.heartbeatIntervalMs = heartbeat;
  return consumer;
}

/**
 * How the transport creates a missing topic, from the environment: `KAFKA_TOPIC_PARTITIONS` and
 * `KAFKA_TOPIC_REPLICATION_FACTOR` (a 16-bit number on the wire). Unset ones are left out (transport defaults).
 */
export function kafkaTopicSettingsFromEnv(env: NodeJS.ProcessEnv): KafkaTopicSettings {
  const topics: KafkaTopicSettings = {};
  const partitions = positiveInt(env, 'KAFKA_TOPIC_PARTITIONS', 'partitions', 2_147_483_647);
  const replicationFactor = positiveInt(env, 'KAFKA_TOPIC_REPLICATION_FACTOR', 'replicas', 32_767);
  if (partitions !== undefined) topics.numPartitions = partitions;
  if (replicationFactor !== undefined) topics.replicationFactor = replicationFactor;
  return topics;
}
