import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import {
  Inbox,
  OutboxRelay,
  OutboxWriter,
  messagingTablesSql,
  type ConsumerHandle,
  type EventTransport,
  type DeliveredEvent,
  type InboxOutcome,
} from '@tessera/messaging';
import type { EventEnvelope } from '@tessera/contracts';
import { POOL_IDLE_TIMEOUT_MS, PreparedQuery, inTransaction } from '@tessera/persistence';

const SCHEMA = 'bench';
export const BENCH_TOPIC = 'tessera.bench.events';

// The business statements are prepared, as the services' hot statements are.
const INSERT_ORDER = new PreparedQuery(`INSERT INTO ${SCHEMA}.orders (id, tenant_id, total_minor, currency) VALUES ($1, $2, $3, 'EUR')`);
const INSERT_STATS = new PreparedQuery(`INSERT INTO ${SCHEMA}.order_stats (event_id, order_id, lines) VALUES ($1, $2, $3)`);

/**
 * One service's event path, for real: business transactions that insert an order row and append its events to
 * the outbox in the same transaction; the outbox relay publishing through the transport; a consumer group whose
 * handler applies each event through the inbox (`processed_events` + an effect row), a partition's batch in one
 * transaction as EventsServer does.
 * Records, per event id, when its business transaction committed and when its effect committed.
 */
export class BenchPipeline {
  private readonly writer = new OutboxWriter({ context: 'orders', schema: SCHEMA, topic: BENCH_TOPIC });
  private relay: OutboxRelay | undefined;
  private consumer: ConsumerHandle | undefined;
  readonly committedAt = new Map<string, number>();
  readonly handledAt = new Map<string, number>();
  /** Each business transaction's commit time and duration (ms). */
  readonly transactionTimes: [number, number][] = [];
  private duplicates = 0;
  private stopped = false;

  private constructor(
    private readonly dataSource: DataSource,
    private readonly consumerDataSource: DataSource,
    private readonly publisher: EventTransport,
    private readonly subscriber: EventTransport,
  ) {}

  /** Sets up the tables in `url`'s database and starts relay and consumer (two transport instances, like two services). */
  /** `batch: false` gives the consumer no `handleBatch`: one inbox transaction per event, for comparison. */
  static async start(
    url: string,
    transport: () => EventTransport,
    { batch = true, lingerMs, pipeline = true }: { batch?: boolean; lingerMs?: number; pipeline?: boolean } = {},
  ): Promise<BenchPipeline> {
    const dataSource = new DataSource({ type: 'postgres', url, extra: { max: 40, pipeline, idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS } });
    await dataSource.initialize();
    await dataSource.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    for (const sql of messagingTablesSql(SCHEMA)) await dataSource.query(sql);
    await dataSource.query(
      `CREATE TABLE IF NOT EXISTS ${SCHEMA}.orders (id uuid PRIMARY KEY, tenant_id uuid NOT NULL, total_minor bigint NOT NULL,
         currency char(3) NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    );
    await dataSource.query(
      `CREATE TABLE IF NOT EXISTS ${SCHEMA}.order_stats (event_id uuid PRIMARY KEY, order_id uuid NOT NULL, lines int NOT NULL)`,
    );
    // The consumer is another service: its own connection pool, so its inbox transactions do not queue behind
    // the writers' (which, at an open-loop rate, can pile up in the writers' pool).
    const consumerDataSource = new DataSource({ type: 'postgres', url, extra: { max: 20, pipeline, idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS } });
    await consumerDataSource.initialize();
    const p = new BenchPipeline(dataSource, consumerDataSource, transport(), transport());
    await p.publisher.connect();
    await p.subscriber.connect();
    p.relay = new OutboxRelay({
      dataSource,
      schema: SCHEMA,
      transport: p.publisher,
      batchSize: 500,
      pollIntervalMs: 50,
      lingerMs,
    });
    p.relay.start();
    const inbox = new Inbox({ dataSource: consumerDataSource, schema: SCHEMA, groupId: 'bench-consumer' });
    const apply = (event: EventEnvelope): Promise<InboxOutcome> =>
      inbox.run(event, async (tx) => {
        const data = event.data as { orderId: string; line: number };
        await INSERT_STATS.rows(tx.manager, [event.id, data.orderId, data.line]);
      });
    // Outcomes count only once their transaction committed: after inbox.run alone, or after the whole batch.
    const record = (event: EventEnvelope, outcome: InboxOutcome, at: number): void => {
      if (outcome === 'duplicate') p.duplicates++;
      else p.handledAt.set(event.id, at);
    };
    p.consumer = await p.subscriber.subscribe({
      groupId: 'bench-consumer',
      topics: [BENCH_TOPIC],
      handle: async (event) => record(event, await apply(event), Date.now()),
      // As EventsServer does: a partition's batch in one inbox transaction.
      ...(batch
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
    return p;
  }

  get handled(): number {
    return this.handledAt.size;
  }

  get duplicateDeliveries(): number {
    return this.duplicates;
  }

  /** One business transaction: an order row plus `events` outbox events ("order line added"), committed together. */
  async placeOrder(events: number): Promise<string[]> {
    const begun = Date.now();
    const tenantId = randomUUID();
    const orderId = randomUUID();
    // As a service's TenantTransactions.run does (pipelined, like every service's pool).
    const written = await inTransaction(this.dataSource, async (manager) => {
      await INSERT_ORDER.rows(manager, [orderId, tenantId, 1999 * events]);
      return this.writer.appendAll(
        { manager, tenantId },
        Array.from({ length: events }, (_, line) => ({
          type: 'orders.order.line-added',
          subject: orderId,
          data: { orderId, line, sku: `SKU-${line}`, quantity: 1, priceMinor: 1999 },
        })),
      );
    }, { tenantId });
    const now = Date.now();
    for (const e of written) this.committedAt.set(e.id, now);
    this.transactionTimes.push([now, now - begun]);
    return written.map((e) => e.id);
  }

  async waitHandled(count: number, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.handled < count) {
      if (Date.now() > until) throw new Error(`only ${this.handled} of ${count} events handled after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Commit-to-handled latencies (ms) of the given events. */
  latencies(ids: Iterable<string>): number[] {
    const out: number[] = [];
    for (const id of ids) {
      const c = this.committedAt.get(id);
      const h = this.handledAt.get(id);
      if (c !== undefined && h !== undefined) out.push(h - c);
    }
    return out;
  }

  /** Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.consumer?.stop();
    await this.relay?.stop();
    await this.subscriber.close();
    await this.publisher.close();
    await this.dataSource.destroy();
    await this.consumerDataSource.destroy();
  }
}
