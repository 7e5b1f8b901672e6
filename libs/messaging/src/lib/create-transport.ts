import type { EventTransport } from './core/transport.port';
import { PostgresTransport } from './postgres/postgres.transport';
import type { PostgresTransportOptions } from './postgres/postgres.transport';

export interface CreateTransportOptions {
  /** Kafka client id (the service name). */
  clientId: string;
  /** The postgres transport's connection; default `MESSAGING_DATABASE_URL`, then `DATABASE_URL`. */
  databaseUrl?: string;
  postgres?: Omit<PostgresTransportOptions, 'url'>;
}

type KafkaTransportCtor = new (opts: { brokers: string[]; clientId: string }) => EventTransport;

/**
 * `kafka` when KAFKA_BROKERS is set, otherwise `postgres`. kafkajs is loaded only when Kafka is used,
 * so the embedded default never pays for it.
 */
export function createTransport(env: NodeJS.ProcessEnv, opts: CreateTransportOptions): EventTransport {
  const brokers = (env['KAFKA_BROKERS'] ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length > 0) {
    const { KafkaTransport } = require('./kafka/kafka.transport') as { KafkaTransport: KafkaTransportCtor };
    return new KafkaTransport({ brokers, clientId: opts.clientId });
  }
  const url = opts.databaseUrl ?? env['MESSAGING_DATABASE_URL'] ?? env['DATABASE_URL'];
  if (!url) throw new Error('postgres transport: no database URL (set DATABASE_URL, or KAFKA_BROKERS for Kafka)');
  return new PostgresTransport({ ...opts.postgres, url });
}
