import { DataSource } from 'typeorm';
import pino from 'pino';
import { Inbox, PostgresTransport, type ConsumerHandle, type DeliveredEvent, type EventTransport, type InboxOutcome } from '@tessera/messaging';
import type { EventEnvelope } from '@tessera/contracts';
import { PreparedQuery, SERVICE_POOL_OPTIONS } from '@tessera/persistence';
// Not re-exported by @tessera/messaging, which loads kafkajs only when KAFKA_BROKERS is set.
// eslint-disable-next-line @nx/enforce-module-boundaries -- the bench needs the Kafka transport's own options
import { KafkaTransport } from '../../libs/messaging/src/lib/kafka';

export const BENCH_SCHEMA = 'bench';
export const BENCH_TOPIC = 'tessera.bench.events';

/** Which transport, in a form a child process can be given. */
export type TransportSpec =
  | { kind: 'postgres'; url: string; partitions: number }
  | { kind: 'kafka'; brokers: string[]; partitions: number };

export function makeTransport(spec: TransportSpec): EventTransport {
  if (spec.kind === 'postgres') return new PostgresTransport({ url: spec.url, partitions: spec.partitions });
  return new KafkaTransport({
    brokers: spec.brokers,
    clientId: 'bench',
    logger: pino({ level: 'warn' }),
    consumer: { partitionsConsumedConcurrently: spec.partitions },
  });
}

export interface ConsumerOptions {
  url: string;
  transport: TransportSpec;
  /** A partition's batch in one inbox transaction (`handleBatch`), as EventsServer does; off: one per event. */
  batch: boolean;
  pipeline: boolean;
  /** Statements issued in one turn of the event loop leave in one write, as on every service's pool. */
  coalesce: boolean;
}

/** A service pool's options, with pipeline mode and write coalescing switchable for comparison. */
export function benchPoolOptions(pipeline: boolean, coalesce: boolean) {
  return { ...SERVICE_POOL_OPTIONS, pipeline, stream: coalesce ? SERVICE_POOL_OPTIONS.stream : undefined };
}

const INSERT_STATS = new PreparedQuery(`INSERT INTO ${BENCH_SCHEMA}.order_stats (event_id, order_id, lines) VALUES ($1, $2, $3)`);

/**
 * The consuming service: a consumer group whose handler applies each event through the inbox (`processed_events`
 * plus an effect row), with its own connection pool and transport. Reports each event once its transaction
 * committed (`handled`, with the commit time) or when the inbox found it already applied (`duplicate`).
 */
export async function startConsumer(
  o: ConsumerOptions,
  report: { handled(id: string, at: number): void; duplicate(): void },
): Promise<{ stop(): Promise<void> }> {
  const dataSource = new DataSource({ type: 'postgres', url: o.url, extra: { max: 20, ...benchPoolOptions(o.pipeline, o.coalesce) } });
  await dataSource.initialize();
  const transport = makeTransport(o.transport);
  await transport.connect();
  const inbox = new Inbox({ dataSource, schema: BENCH_SCHEMA, groupId: 'bench-consumer' });
  const apply = (event: EventEnvelope): Promise<InboxOutcome> =>
    inbox.run(event, async (tx) => {
      const data = event.data as { orderId: string; line: number };
      await INSERT_STATS.rows(tx.manager, [event.id, data.orderId, data.line]);
    });
  const record = (event: EventEnvelope, outcome: InboxOutcome, at: number): void => {
    if (outcome === 'duplicate') report.duplicate();
    else report.handled(event.id, at);
  };
  const handle: ConsumerHandle = await transport.subscribe({
    groupId: 'bench-consumer',
    topics: [BENCH_TOPIC],
    handle: async (event) => record(event, await apply(event), Date.now()),
    ...(o.batch
      ? {
          handleBatch: async (events: DeliveredEvent[]) => {
            const outcomes = await inbox.runBatch(
              async () => {
                const out: InboxOutcome[] = [];
                for (const { event } of events) out.push(await apply(event));
                return out;
              },
              { events: events.map((e) => e.event) },
            );
            const at = Date.now();
            events.forEach(({ event }, i) => record(event, outcomes[i], at));
          },
        }
      : {}),
  });
  return {
    stop: async () => {
      await handle.stop();
      await transport.close();
      await dataSource.destroy();
    },
  };
}

// Started as a child process (`--consumer=process`): the consumer is another service, in a process of its own.
// Handled events go to the parent in batches every few milliseconds; the commit times were taken here.
if (process.env.BENCH_CONSUMER_CHILD === '1' && process.send) {
  const send = process.send.bind(process);
  const options = JSON.parse(process.env.BENCH_CONSUMER_OPTIONS as string) as ConsumerOptions;
  let handled: [string, number][] = [];
  let duplicates = 0;
  const flush = () => {
    if (handled.length === 0 && duplicates === 0) return;
    send({ handled, duplicates });
    handled = [];
    duplicates = 0;
  };
  const timer = setInterval(flush, 5);
  startConsumer(options, { handled: (id, at) => void handled.push([id, at]), duplicate: () => void duplicates++ }).then(
    (consumer) => {
      send({ ready: true });
      process.on('message', (m: { stop?: boolean }) => {
        if (!m.stop) return;
        consumer.stop().then(() => {
          clearInterval(timer);
          flush();
          send({ stopped: true });
          process.disconnect();
        });
      });
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
