import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { OutboxRelay, OutboxWriter, messagingTablesSql, type EventTransport } from '@tessera/messaging';
import { PreparedQuery, inTransaction } from '@tessera/persistence';
import { BENCH_SCHEMA as SCHEMA, BENCH_TOPIC, benchPoolOptions, makeTransport, startConsumer, type ConsumerOptions, type TransportSpec } from './bench-consumer';

export { BENCH_TOPIC };

// The business statements are prepared, as the services' hot statements are.
const INSERT_ORDER = new PreparedQuery(`INSERT INTO ${SCHEMA}.orders (id, tenant_id, total_minor, currency) VALUES ($1, $2, $3, 'EUR')`);

interface Consumer {
  stop(): Promise<void>;
}

/** The consumer in a child process: another service, as in a deployment. Resolves once it has subscribed. */
function forkConsumer(o: ConsumerOptions, onHandled: (id: string, at: number) => void, onDuplicates: (n: number) => void): Promise<Consumer & { child: ChildProcess }> {
  const child = fork(require.resolve('./bench-consumer'), [], {
    execArgv: ['-r', '@swc-node/register'],
    env: { ...process.env, BENCH_CONSUMER_CHILD: '1', BENCH_CONSUMER_OPTIONS: JSON.stringify(o) },
  });
  // A bench that dies must not leave its consumer running.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  return new Promise((resolve, reject) => {
    let stopped: (() => void) | undefined;
    child.on('message', (m: { ready?: boolean; stopped?: boolean; handled?: [string, number][]; duplicates?: number }) => {
      for (const [id, at] of m.handled ?? []) onHandled(id, at);
      if (m.duplicates) onDuplicates(m.duplicates);
      if (m.ready)
        resolve({
          child,
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null) return done();
              stopped = done;
              child.send({ stop: true });
            }),
        });
      if (m.stopped) stopped?.();
    });
    child.once('exit', (code) => {
      process.removeListener('exit', reap);
      stopped?.();
      reject(new Error(`bench consumer exited with ${code}`));
    });
  });
}

/**
 * One service's event path, for real: business transactions that insert an order row and append its events to
 * the outbox in the same transaction; the outbox relay publishing through the transport; a consumer group whose
 * handler applies each event through the inbox (`processed_events` + an effect row), a partition's batch in one
 * transaction as EventsServer does (bench-consumer.ts), in this process or in a child process of its own.
 * Records, per event id, when its business transaction committed and when its effect committed.
 */
export class BenchPipeline {
  private readonly writer = new OutboxWriter({ context: 'orders', schema: SCHEMA, topic: BENCH_TOPIC });
  private relay: OutboxRelay | undefined;
  private consumer: Consumer | undefined;
  readonly committedAt = new Map<string, number>();
  readonly handledAt = new Map<string, number>();
  /** Each business transaction's commit time and duration (ms). */
  readonly transactionTimes: [number, number][] = [];
  private duplicates = 0;
  private stopped = false;

  private constructor(
    private readonly dataSource: DataSource,
    private readonly publisher: EventTransport,
  ) {}

  /**
   * Sets up the tables in `url`'s database and starts relay and consumer (two transport instances, like two
   * services). `batch: false` gives the consumer no `handleBatch`: one inbox transaction per event, for comparison.
   * `consumerProcess`: the consumer runs in a child process.
   */
  static async start(
    url: string,
    transport: TransportSpec,
    {
      batch = true,
      lingerMs,
      pipeline = true,
      coalesce = true,
      consumerProcess = false,
    }: { batch?: boolean; lingerMs?: number; pipeline?: boolean; coalesce?: boolean; consumerProcess?: boolean } = {},
  ): Promise<BenchPipeline> {
    const dataSource = new DataSource({ type: 'postgres', url, extra: { max: 40, ...benchPoolOptions(pipeline, coalesce) } });
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
    const p = new BenchPipeline(dataSource, makeTransport(transport));
    await p.publisher.connect();
    p.relay = new OutboxRelay({
      dataSource,
      schema: SCHEMA,
      transport: p.publisher,
      batchSize: 500,
      pollIntervalMs: 50,
      lingerMs,
    });
    p.relay.start();
    // The consumer is another service: its own connection pool (so its inbox transactions do not queue behind the
    // writers', which at an open-loop rate can pile up) and its own transport instance.
    const options: ConsumerOptions = { url, transport, batch, pipeline, coalesce };
    const handled = (id: string, at: number) => void p.handledAt.set(id, at);
    p.consumer = consumerProcess
      ? await forkConsumer(options, handled, (n) => (p.duplicates += n))
      : await startConsumer(options, { handled, duplicate: () => void p.duplicates++ });
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
    await this.publisher.close();
    await this.dataSource.destroy();
  }
}
