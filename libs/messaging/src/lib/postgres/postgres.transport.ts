import { randomUUID } from 'node:crypto';
import type { EventEnvelope } from '@tessera/contracts';
import { Client, Pool } from 'pg';
import { Backoff, Wakeable } from '../core/backoff';
import { POOL_IDLE_TIMEOUT_MS, PreparedQuery } from '@tessera/persistence';
import type { BackoffOptions } from '../core/backoff';
import type { ConsumerHandle, EventTransport, Subscription } from '../core/transport.port';
import { partitionFor } from './partitioner';
import { PgConsumer } from './pg-consumer';

export const NOTIFY_CHANNEL = 'tessera_messaging';

/**
 * One statement, hence one transaction and one round trip: per partition it bumps the head by the number of events
 * (heads locked in partition order, so concurrent publishers cannot deadlock) and inserts the events at the
 * allocated offsets in input order. The head rows stay locked until the commit, so the next publisher of a partition
 * waits: offsets become visible in order, gap-free.
 */
const PUBLISH = new PreparedQuery(
  `WITH input AS (
     SELECT t.partition, t.key, e.envelope, t.ord
       FROM unnest($2::int[], $3::text[]) WITH ORDINALITY AS t(partition, key, ord)
       JOIN json_array_elements($4::json) WITH ORDINALITY AS e(envelope, ord) USING (ord)),
   counts AS (SELECT partition, count(*)::bigint AS n FROM input GROUP BY partition),
   heads AS (
     INSERT INTO messaging.partition_heads (topic, partition, next_offset)
     SELECT $1, partition, n FROM counts ORDER BY partition
     ON CONFLICT (topic, partition) DO UPDATE SET next_offset = messaging.partition_heads.next_offset + EXCLUDED.next_offset
     RETURNING partition, next_offset),
   numbered AS (SELECT i.*, row_number() OVER (PARTITION BY i.partition ORDER BY i.ord) AS rn FROM input i)
   INSERT INTO messaging.events (topic, partition, "offset", key, envelope)
   SELECT $1, n.partition, h.next_offset - c.n + n.rn - 1, n.key, n.envelope
     FROM numbered n JOIN heads h USING (partition) JOIN counts c USING (partition)
    ORDER BY n.partition, n.rn`,
);
const NOTIFY = new PreparedQuery('SELECT pg_notify($1, $2)');

export interface PostgresTransportOptions {
  /** Runtime connection (a role with DML on schema `messaging`; see ensureMessagingSchema). */
  url: string;
  /** Partitions of a topic this transport creates first (default 8); existing topics keep theirs. */
  partitions?: number;
  poolSize?: number;
  /** Polling fallback for consumers when no wake-up or NOTIFY arrives (default 2000 ms: idle services stay quiet). */
  pollIntervalMs?: number;
  rebalanceIntervalMs?: number;
  sessionTimeoutMs?: number;
  /** Messages read per partition query (default 100). */
  consumerBatchSize?: number;
  /** Longest time a busy partition's handled progress goes uncommitted (default 200 ms; at once when idle). */
  commitIntervalMs?: number;
  backoff?: BackoffOptions;
  /** Log rows consumed by every group that reads the partition are deleted after this (default 7 days). */
  retentionMs?: number;
  pruneIntervalMs?: number;
  onError?: (message: string, err: unknown) => void;
}

/**
 * The `postgres` transport: a durable, partitioned log in schema `messaging` with per-group offsets.
 * See libs/messaging/README.md for how ordering, ownership and wake-ups work.
 */
export class PostgresTransport implements EventTransport {
  readonly kind = 'postgres' as const;
  /** Tells this instance's own notifications apart from other publishers'. */
  private readonly instanceId = randomUUID();
  private pool: Pool | null = null;
  private listener: Client | null = null;
  private listening: Promise<void> | null = null;
  private closed = false;
  private readonly partitionCounts = new Map<string, number>();
  private readonly consumers = new Set<PgConsumer>();
  private pruneTimer: NodeJS.Timeout | null = null;
  private readonly listenRetry = new Wakeable();
  private readonly onError: (message: string, err: unknown) => void;

  constructor(private readonly opts: PostgresTransportOptions) {
    this.onError =
      opts.onError ??
      ((message, err) => console.warn(`[postgres-transport] ${message}:`, err instanceof Error ? err.message : err));
  }

  async connect(): Promise<void> {
    this.closed = false;
    const pool = this.getPool();
    try {
      await pool.query('SELECT 1 FROM messaging.partition_heads LIMIT 1');
    } catch (err) {
      if ((err as { code?: string }).code === '42P01' || (err as { code?: string }).code === '3F000') {
        throw new Error('postgres transport: schema "messaging" is missing; run ensureMessagingSchema(adminUrl) first');
      }
      throw err;
    }
    if (!this.listening) this.listening = this.listen();
    if (!this.pruneTimer) {
      this.pruneTimer = setInterval(
        () => void this.prune().catch((e) => this.onError('log pruning failed', e)),
        this.opts.pruneIntervalMs ?? 10 * 60_000,
      ).unref();
    }
  }

  async publish(topic: string, events: EventEnvelope[]): Promise<void> {
    if (events.length === 0) return;
    const partitions = await this.partitionsOf(topic);
    const targets = events.map((e) => partitionFor(e.partitionkey, partitions));
    await PUBLISH.run(this.getPool(), [
      topic,
      targets,
      events.map((e) => e.partitionkey),
      // One JSON array rather than a text[] of envelopes: node-postgres escapes every quote of an array element.
      JSON.stringify(events),
    ]);
    // After the commit, in its own statement: a NOTIFY inside the transaction would take the
    // database-wide notify lock at commit. Losing it is harmless, consumers also poll.
    // The payload names the partitions written, so readers of other partitions stay asleep.
    const written = new Set(targets);
    // Local readers are woken directly, now; the notification, which comes back to this instance too, is for others.
    this.wakeLocal(topic, written);
    await NOTIFY.run(this.getPool(), [NOTIFY_CHANNEL, `${topic}\n${[...written].join(',')}\n${this.instanceId}`]).catch(() => undefined);
  }

  async subscribe(subscription: Subscription): Promise<ConsumerHandle> {
    if (!this.pool) await this.connect();
    const consumer = new PgConsumer({
      url: this.opts.url,
      pool: this.getPool(),
      subscription,
      partitionsOf: (t) => this.partitionsOf(t),
      rebalanceIntervalMs: this.opts.rebalanceIntervalMs ?? 1000,
      sessionTimeoutMs: this.opts.sessionTimeoutMs ?? 10_000,
      batchSize: this.opts.consumerBatchSize ?? 100,
      pollIntervalMs: this.opts.pollIntervalMs ?? 2000,
      commitIntervalMs: this.opts.commitIntervalMs ?? 200,
      backoff: this.opts.backoff,
      onError: this.onError,
    });
    this.consumers.add(consumer);
    consumer.start();
    return {
      stop: async () => {
        this.consumers.delete(consumer);
        await consumer.stop();
      },
      lag: () => consumer.lag(),
      assignment: () => consumer.assignment(),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
    await Promise.all([...this.consumers].map((c) => c.stop()));
    this.consumers.clear();
    const listener = this.listener;
    this.listener = null;
    this.listenRetry.wake();
    if (listener) await listener.end().catch(() => undefined);
    await this.listening;
    this.listening = null;
    const pool = this.pool;
    this.pool = null;
    if (pool) await pool.end();
  }

  async ping(): Promise<void> {
    await this.getPool().query('SELECT 1');
  }

  /** Partition count of a topic: registered by the first transport that uses it, then fixed. */
  async partitionsOf(topic: string): Promise<number> {
    const known = this.partitionCounts.get(topic);
    if (known) return known;
    const register = () =>
      this.getPool().query<{ partitions: number }>(
        `WITH ins AS (
           INSERT INTO messaging.topics (topic, partitions) VALUES ($1, $2) ON CONFLICT (topic) DO NOTHING RETURNING partitions)
         SELECT partitions FROM ins UNION ALL SELECT partitions FROM messaging.topics WHERE topic = $1`,
        [topic, this.opts.partitions ?? 8],
      );
    let { rows } = await register();
    // Another transport registering the topic at the same moment: the insert waited for it and did nothing, and the
    // statement's snapshot, taken before that commit, does not show its row. The next statement sees it.
    if (rows.length === 0) ({ rows } = await register());
    if (rows.length === 0) throw new Error(`topic ${topic} could not be registered`);
    const n = rows[0].partitions;
    this.partitionCounts.set(topic, n);
    return n;
  }

  /** Deletes log rows past retention that every group reading their partition has committed. */
  async prune(): Promise<number> {
    const res = await this.getPool().query(
      `DELETE FROM messaging.events e
        USING (SELECT topic, partition, min(committed_offset) AS low FROM messaging.consumer_offsets GROUP BY topic, partition) o
        WHERE e.topic = o.topic AND e.partition = o.partition AND e."offset" < o.low
          AND e.published_at < now() - make_interval(secs => $1::float8 / 1000)`,
      [this.opts.retentionMs ?? 7 * 24 * 3600 * 1000],
    );
    return res.rowCount ?? 0;
  }

  private getPool(): Pool {
    if (!this.pool) {
      this.pool = new Pool({
        connectionString: this.opts.url,
        max: this.opts.poolSize ?? 10,
        application_name: 'tessera-messaging',
        keepAlive: true,
        // As the services' pools: reopening the connections a burst had opened costs a fork, a SCRAM exchange and
        // re-preparing every statement, all at once.
        idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
        // Every statement of the transport is a fixed prepared statement over key lookups, whose best plan does not
        // depend on the values; left to choose, PostgreSQL kept planning the array-driven ones on every call
        // (bench:checkout --pg-stats: about a third of a millisecond of planning per order).
        options: '-c plan_cache_mode=force_generic_plan',
      });
      // Idle clients killed by the server must not crash the process; the next query reconnects.
      this.pool.on('error', () => undefined);
    }
    return this.pool;
  }

  private wakeLocal(topic?: string, partitions?: Set<number>): void {
    for (const c of this.consumers) c.wake(topic, partitions);
  }

  /** NOTIFY payload: `<topic>\n<p1>,<p2>...\n<publishing instance>` (a bare topic wakes all its partitions). */
  private onNotification(payload: string | undefined): void {
    if (!payload) return this.wakeLocal();
    const [topic, list, origin] = payload.split('\n');
    if (origin === this.instanceId) return;
    const partitions = list ? new Set(list.split(',').map(Number)) : undefined;
    this.wakeLocal(topic, partitions);
  }


  /** LISTEN on a dedicated connection, reconnecting with backoff; a reconnect wakes every reader. */
  private async listen(): Promise<void> {
    const backoff = new Backoff(this.opts.backoff);
    while (!this.closed) {
      const client = new Client({ connectionString: this.opts.url, application_name: 'tessera-messaging-listen', keepAlive: true });
      const ended = new Promise<void>((resolve) => {
        client.on('error', () => resolve());
        client.on('end', () => resolve());
      });
      try {
        await client.connect();
        client.on('notification', (n) => this.onNotification(n.payload));
        await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
        this.listener = client;
        // close() may have run while we were connecting: it could not end this client then.
        if (this.closed) break;
        backoff.reset();
        this.wakeLocal();
        await ended;
      } catch (err) {
        if (!this.closed) this.onError('listener connection failed', err);
      } finally {
        if (this.listener === client) this.listener = null;
        await client.end().catch(() => undefined);
      }
      if (!this.closed) await this.listenRetry.sleep(backoff.nextDelayMs());
    }
  }
}
