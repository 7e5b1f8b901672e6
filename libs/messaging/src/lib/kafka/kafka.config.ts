import type { KafkaTransportOptions } from './kafka.transport';

function positiveInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`${name} must be a positive integer (milliseconds), got '${raw}'`);
  return n;
}

/** Consumer group timings set in the environment (`KAFKA_SESSION_TIMEOUT_MS`, `KAFKA_HEARTBEAT_INTERVAL_MS`). */
export function kafkaConsumerTimingsFromEnv(env: NodeJS.ProcessEnv): NonNullable<KafkaTransportOptions['consumer']> {
  const consumer: NonNullable<KafkaTransportOptions['consumer']> = {};
  const session = positiveInt(env, 'KAFKA_SESSION_TIMEOUT_MS');
  const heartbeat = positiveInt(env, 'KAFKA_HEARTBEAT_INTERVAL_MS');
  if (session !== undefined) consumer.sessionTimeoutMs = session;
  if (heartbeat !== undefined) consumer.heartbeatIntervalMs = heartbeat;
  return consumer;
}

/**
 * Kafka transport options from the environment: `KAFKA_BROKERS` (comma-separated, required) and the optional
 * consumer group timings `KAFKA_SESSION_TIMEOUT_MS` and `KAFKA_HEARTBEAT_INTERVAL_MS`. Throws naming the bad variable.
 */
export function kafkaOptionsFromEnv(env: NodeJS.ProcessEnv, clientId: string): KafkaTransportOptions {
  const brokers = (env['KAFKA_BROKERS'] ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0) throw new Error('KAFKA_BROKERS must list at least one broker (host:port,...)');
  return { brokers, clientId, consumer: kafkaConsumerTimingsFromEnv(env) };
}
