import type { EventTransport } from './core/transport.port';
import { ensureMessagingSchema } from './postgres/messaging-schema';
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
 * The brokers in KAFKA_BROKERS: comma-separated, trimmed, empties dropped. Unset or empty (as for every variable)
 * means the postgres log; a value that lists no broker (`,`) is refused rather than taken for either. The one rule
 * for every reader: the services' transport, the migrations (whether to create the log's schema) and, restated in
 * plain JS, tools/launcher/env.js.
 */
export function parseKafkaBrokers(env: NodeJS.ProcessEnv): string[] | undefined {
  const raw = env['KAFKA_BROKERS'];
  if (raw === undefined || raw === '') return undefined;
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0) {
    throw new Error(`KAFKA_BROKERS lists no broker (${JSON.stringify(raw)}): give host:port[,host:port...], or leave it unset for the postgres log`);
  }
  return brokers;
}

/**
 * A service migration's `beforeRun` (migrationCli): with the postgres transport (KAFKA_BROKERS unset), creates the
 * shared `messaging` schema the relay publishes into (idempotent), so that migrating grants the runtime role its DML
 * there. A KAFKA_BROKERS listing no broker is refused here as the services refuse it, not taken for Kafka.
 */
export async function ensureMessagingSchemaUnlessKafka(adminUrl: string, env: NodeJS.ProcessEnv): Promise<void> {
  if (!parseKafkaBrokers(env)) await ensureMessagingSchema(adminUrl);
}

/**
 * `kafka` when KAFKA_BROKERS lists brokers, `postgres` when it is unset (parseKafkaBrokers). kafkajs is loaded only
 * when Kafka is used, so the embedded default never pays for it.
 */
export function createTransport(env: NodeJS.ProcessEnv, opts: CreateTransportOptions): EventTransport {
  const brokers = parseKafkaBrokers(env);
  if (brokers) {
    const { KafkaTransport } = require('./kafka/kafka.transport') as { KafkaTransport: KafkaTransportCtor };
    return new KafkaTransport({ brokers, clientId: opts.clientId });
  }
  const url = opts.databaseUrl ?? env['MESSAGING_DATABASE_URL'] ?? env['DATABASE_URL'];
  if (!url) throw new Error('postgres transport: no database URL (set DATABASE_URL, or KAFKA_BROKERS for Kafka)');
  return new PostgresTransport({ ...opts.postgres, url });
}
