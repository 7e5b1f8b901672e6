import type { EventEnvelope } from '@tessera/contracts';
import type { PoolClient, Pool } from 'pg';
import type { Registry } from 'prom-client';
import type { DataSource, EntityManager, EntitySubscriberInterface, TransactionCommitEvent } from 'typeorm';
import { Backoff, Wakeable, delay } from './backoff';
import type { BackoffOptions } from './backoff';
import { outboxMetrics } from './metrics';
import type { OutboxMetrics } from './metrics';
import { OUTBOX_RELAY_SETTING } from './messaging-tables.migration';
import { OUTBOX_APPENDED } from './outbox-writer';
import { inTransaction, PreparedQuery } from '@tessera/persistence';
import { quoteSchema } from './sql-names';
import type { EventTransport } from './transport.port';

export interface RelayLogger {
  warn(message: string, err?: unknown): void;
}

export interface OutboxRelayOptions {
  dataSource: DataSource;
  schema: string;
  transport: EventTransport;
  /** Rows per publish call (default 500). */
  batchSize?: number;
  /** Polling fallback when no nudge arrives (default 1000 ms; commits through OutboxWriter nudge the relay at once). */
  pollIntervalMs?: number;
  /**
   * After a wake-up, how long to let further commits gather before reading (default 5 ms; 35 ms on Kafka). Under a
   * stream of small transactions, each pass then publishes several events for its four round trips instead of one or
   * two. On Kafka a pass also costs a produce request to every broker leading a partition of the batch, acknowledged
   * by all replicas: at 1,000 single-event commits per second, 5 ms left the relay and consumers 1.7–2.0 ms of CPU
   * per event and saturated the bench machine; 20 ms 1.59–1.91 ms over seven runs, 35 ms 1.47–1.73 ms over nine,
   * which also sustained more events/s (median 3,393 against 2,971; bench:events --linger, docs/benchmarks.md).
   */
  lingerMs?: number;
  /** How often a standby relay tries to become the active one (default 1000 ms). */
  lockRetryMs?: number;
  /**
   * How long published rows stay in the outbox, marked `published_at`, before pruning. Default 0: a row is deleted
   * in the statement that would mark it, the cheapest for the database (no second row version, no index entries);
   * the published event lives on in the transport's log.
   */
  retentionMs?: number;
  /**
   * How long the ids of handled events stay in `processed_events` (default 30 days), pruned by the active relay with
   * the outbox. An event redelivered after its id was pruned would be applied again, so this must stay above how long
   * the transport can redeliver one: the postgres log keeps consumed events 7 days, Kafka a topic's retention.
   */
  inboxRetentionMs?: number;
  pruneIntervalMs?: number;
  statsIntervalMs?: number;
  /** Upper bound for the final flush in stop() (default 10 s). */
  stopTimeoutMs?: number;
  backoff?: BackoffOptions;
  registry?: Registry;
  logger?: RelayLogger;
  /** Test hook, called after the transport accepted a batch and before it is marked published. */
  afterPublish?: (eventIds: string[]) => Promise<void>;
}

/** 30 days: well above the postgres log's 7 days of consumed events and Kafka's default 7-day retention. */
export const DEFAULT_INBOX_RETENTION_MS = 30 * 24 * 3_600_000;

interface OutboxRow {
  id: string;
  topic: string;
  envelope: EventEnvelope;
}

/** Failure of the transport (as opposed to the outbox database): keep the session, retry the same batch. */
class TransportPublishError extends Error {
  constructor(override readonly cause: unknown) {
    super(`transport publish failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

const guarded = new WeakSet<PoolClient>();

const consoleLogger: RelayLogger = {
  warn: (message, err) => console.warn(`[outbox-relay] ${message}`, err instanceof Error ? err.message : (err ?? '')),
};

/**
 * Publishes a service's outbox in `seq` order and marks rows published.
 *
 * - One active relay per schema: a session advisory lock on a dedicated connection; every relay query
 *   runs on that connection, so losing it (crash, terminated backend) loses leadership at the same time.
 * - Always selects `published_at IS NULL ORDER BY seq`, never `seq > last_seen`: a transaction that took
 *   its seq early and committed late is still picked up.
 * - A failed publish is retried (backoff with jitter) with the same oldest-first batch before anything
 *   newer, so nothing is reordered; a crash between publish and mark only republishes (at least once).
 * - No NOTIFY in business transactions: a TypeORM commit subscriber and {@link nudge} wake it in-process,
 *   polling covers the rest (other processes, raw SQL writers).
 */
export class OutboxRelay {
  private readonly table: string;
  private readonly lockKey: string;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly lingerMs: number;
  private readonly metrics: OutboxMetrics;
  private readonly log: RelayLogger;
  private readonly wakeup = new Wakeable();
  private readonly backoff: Backoff;
  private session: PoolClient | null = null;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private serial: Promise<unknown> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private lastError: unknown = null;
  private readonly subscriber: EntitySubscriberInterface;
  private readonly selectPending: PreparedQuery;
  private readonly markPublished: PreparedQuery;

  constructor(private readonly opts: OutboxRelayOptions) {
    this.table = `${quoteSchema(opts.schema)}.outbox_events`;
    this.selectPending = new PreparedQuery(
      `SELECT id, topic, envelope FROM ${this.table} WHERE published_at IS NULL ORDER BY seq LIMIT $1`,
    );
    this.markPublished = new PreparedQuery(
      (opts.retentionMs ?? 0) > 0
        ? `UPDATE ${this.table} SET published_at = now() WHERE id = ANY($1::uuid[])`
        : `DELETE FROM ${this.table} WHERE id = ANY($1::uuid[])`,
    );
    this.lockKey = `tessera.outbox-relay:${opts.schema}`;
    this.batchSize = opts.batchSize ?? 500;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    this.lingerMs = opts.lingerMs ?? (opts.transport.kind === 'kafka' ? 35 : 5);
    this.metrics = outboxMetrics(opts.registry);
    this.log = opts.logger ?? consoleLogger;
    this.backoff = new Backoff(opts.backoff);
    this.subscriber = {
      afterTransactionCommit: (event: TransactionCommitEvent) => {
        const data = event.queryRunner.data as Record<string, unknown> | undefined;
        if (data?.[OUTBOX_APPENDED]) {
          delete data[OUTBOX_APPENDED];
          this.nudge();
        }
      },
    };
  }

  /** True while this instance holds the relay lock. */
  get isActive(): boolean {
    return this.session !== null;
  }

  get running(): boolean {
    return this.loop !== null && !this.stopping;
  }

  /** The last error seen (null after a successful batch); for readiness reporting. */
  get lastFailure(): unknown {
    return this.lastError;
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.opts.dataSource.subscribers.push(this.subscriber);
    this.loop = this.runLoop();
    const statsEvery = this.opts.statsIntervalMs ?? 1000;
    const pruneEvery = this.opts.pruneIntervalMs ?? 60_000;
    this.timers.push(setInterval(() => void this.updateStats(), statsEvery).unref());
    this.timers.push(
      setInterval(() => {
        if (!this.isActive) return;
        void this.prune()
          .then(() => this.pruneInbox())
          .catch((e) => this.log.warn('prune failed', e));
      }, pruneEvery).unref(),
    );
  }

  /** Wake the loop now: something was just committed to the outbox. */
  nudge(): void {
    this.wakeup.wake();
  }

  /**
   * Publishes everything pending now (as the active relay), then resolves. Returns the number of
   * events published; 0 when another instance holds the lock.
   */
  async flush(): Promise<number> {
    return (await this.flushUntil(Infinity)).total;
  }

  /** flush(), starting no batch after `deadline` (a Date.now() time); `drained` when nothing was left pending. */
  private flushUntil(deadline: number): Promise<{ total: number; drained: boolean }> {
    return this.exclusive(async () => {
      let total = 0;
      if (!(await this.ensureSession())) return { total, drained: true };
      try {
        for (;;) {
          const n = await this.publishBatch();
          total += n;
          if (n < this.batchSize) return { total, drained: true };
          if (Date.now() >= deadline) return { total, drained: false };
        }
      } finally {
        // A relay that is not running (flush without start, or stopping) does not keep the lock.
        if (!this.loop) await this.dropSession(false);
      }
    });
  }

  /**
   * Stops polling, publishes what is pending and releases the lock, all within stopTimeoutMs (or by
   * `options.deadline`, a Date.now() time, when that comes first): a publish still running
   * at the deadline (a broker or database that does not answer) is abandoned and the session's connection closed,
   * which releases the lock. Rows it had not marked stay in the outbox; the next relay publishes them (again, if the
   * abandoned publish had got through: consumers' inboxes absorb that).
   */
  async stop(options: { deadline?: number } = {}): Promise<void> {
    // Within stopTimeoutMs, and within the process's shutdown deadline when it has one (service-kit).
    const deadline = Math.min(Date.now() + (this.opts.stopTimeoutMs ?? 10_000), options.deadline ?? Infinity);
    const timeout = Math.max(0, deadline - Date.now());
    let complete = true;
    // Settled either way: the loop and dropSession handle their own errors.
    const settled = (): true => true;
    if (this.loop) {
      this.stopping = true;
      this.wakeup.wake();
      for (const t of this.timers) clearInterval(t);
      this.timers = [];
      const loopEnded = await resultBy(this.loop.then(settled, settled), deadline);
      this.loop = null;
      const subs = this.opts.dataSource.subscribers;
      const i = subs.indexOf(this.subscriber);
      if (i >= 0) subs.splice(i, 1);
      const flushed = loopEnded ? await resultBy(this.flushUntil(deadline), deadline) : undefined;
      complete = flushed !== undefined;
      if (!flushed?.drained) {
        this.log.warn(`final flush incomplete within ${timeout} ms; pending rows stay in the outbox for the next relay`);
      }
    }
    if (!complete || !(await resultBy(this.exclusive(async () => this.dropSession(false)).then(settled, settled), deadline + 1_000))) {
      // Whatever still holds the session is abandoned: closing its connection is what releases the lock. The server
      // releases it as the session ends, a moment after the close: wait for that (briefly), so that when stop()
      // resolves another relay finds the lock free.
      const client = this.session;
      this.session = null;
      if (client) {
        const ended = new Promise<true>((resolve) => client.once('end', () => resolve(true)));
        client.release(true);
        await resultBy(ended, Date.now() + 1_000);
      }
    }
  }


  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn, fn);
    this.serial = run.catch(() => undefined);
    return run;
  }

  private async runLoop(): Promise<void> {
    while (!this.stopping) {
      let sleepMs = 0;
      try {
        const n = await this.exclusive(async () => {
          if (!(await this.ensureSession())) return -1;
          return this.publishBatch();
        });
        if (n < 0) sleepMs = this.opts.lockRetryMs ?? 1000;
        else if (n < this.batchSize) sleepMs = this.pollIntervalMs;
        this.backoff.reset();
        this.lastError = null;
      } catch (err) {
        this.lastError = err;
        sleepMs = this.backoff.nextDelayMs();
        if (err instanceof TransportPublishError) {
          this.log.warn(`publish failed, retrying the same batch in ${sleepMs} ms`, err.cause);
        } else {
          this.log.warn(`outbox database error, reconnecting in ${sleepMs} ms`, err);
          await this.exclusive(async () => this.dropSession(true));
        }
      }
      if (sleepMs > 0 && !this.stopping) {
        await this.wakeup.sleep(sleepMs);
        if (this.lingerMs > 0 && !this.stopping) await delay(this.lingerMs);
      }
    }
  }

  /** Makes sure this instance holds the relay lock on a live dedicated connection. */
  private async ensureSession(): Promise<boolean> {
    if (this.session) return true;
    const pool = (this.opts.dataSource.driver as unknown as { master: Pool }).master;
    const client = await pool.connect();
    // An idle session that dies must not crash the process; the next query notices and reconnects.
    // Pooled clients come back: add the listener once per client.
    if (!guarded.has(client)) {
      guarded.add(client);
      client.on('error', () => undefined);
    }
    try {
      // Holding the lock, the session also sees every tenant's outbox rows (outboxRlsMigration).
      const { rows } = await client.query<{ locked: boolean }>(
        `WITH l AS (SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked)
         SELECT locked, set_config('${OUTBOX_RELAY_SETTING}', CASE WHEN locked THEN 'on' ELSE 'off' END, false) FROM l`,
        [this.lockKey],
      );
      if (!rows[0].locked) {
        client.release();
        return false;
      }
    } catch (err) {
      client.release(err instanceof Error ? err : true);
      throw err;
    }
    this.session = client;
    return true;
  }

  private async dropSession(broken: boolean): Promise<void> {
    const client = this.session;
    if (!client) return;
    this.session = null;
    if (broken) {
      // Destroying the connection is what releases a session lock we cannot trust any more.
      client.release(true);
      return;
    }
    try {
      // The connection goes back to the pool: it must not keep seeing every tenant's outbox.
      await client.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0)), set_config('${OUTBOX_RELAY_SETTING}', 'off', false)`, [
        this.lockKey,
      ]);
      client.release();
    } catch {
      client.release(true);
    }
  }

  private async publishBatch(): Promise<number> {
    const client = this.session;
    if (!client) throw new Error('relay has no session');
    const { rows } = await this.selectPending.run<OutboxRow>(client, [this.batchSize]);
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => r.id);
    try {
      // Consecutive rows of one topic go in one call; topics are published one after another.
      for (let i = 0; i < rows.length; ) {
        let j = i;
        while (j < rows.length && rows[j].topic === rows[i].topic) j++;
        await this.opts.transport.publish(
          rows[i].topic,
          rows.slice(i, j).map((r) => r.envelope),
        );
        i = j;
      }
    } catch (err) {
      this.metrics.failures.inc({ schema: this.opts.schema });
      await client
        .query(`UPDATE ${this.table} SET attempts = attempts + 1 WHERE id = ANY($1::uuid[])`, [ids])
        .catch(() => undefined);
      throw new TransportPublishError(err);
    }
    if (this.opts.afterPublish) await this.opts.afterPublish(ids);
    await this.markPublished.run(client, [ids]);
    this.metrics.published.inc({ schema: this.opts.schema }, rows.length);
    return rows.length;
  }

  private async updateStats(): Promise<void> {
    try {
      const rows: { backlog: string; age: number | null }[] = await this.acrossTenants((m) =>
        m.query(
          `SELECT count(*) AS backlog, EXTRACT(EPOCH FROM now() - min(created_at))::float8 AS age
             FROM ${this.table} WHERE published_at IS NULL`,
        ),
      );
      this.metrics.backlog.set({ schema: this.opts.schema }, Number(rows[0].backlog));
      this.metrics.oldestAgeSeconds.set({ schema: this.opts.schema }, rows[0].age ?? 0);
    } catch {
      // Database away: the relay loop reports it; stale gauges are better than a crashing timer.
    }
  }

  /**
   * Runs `work` in a transaction of the pool that sees every tenant's outbox rows, as the relay's session does; the
   * setting goes with BEGIN (persistence's inTransaction), not in a round trip of its own.
   */
  private acrossTenants<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return inTransaction(this.opts.dataSource, work, { settings: { [OUTBOX_RELAY_SETTING]: 'on' } });
  }

  /** Deletes the inbox's records of events handled longer ago than inboxRetentionMs, in small batches. */
  async pruneInbox(): Promise<number> {
    const retentionMs = this.opts.inboxRetentionMs ?? DEFAULT_INBOX_RETENTION_MS;
    const table = `${quoteSchema(this.opts.schema)}.processed_events`;
    let total = 0;
    for (;;) {
      const res: [unknown[], number] = await this.opts.dataSource.query(
        `DELETE FROM ${table} WHERE ctid IN (
           SELECT ctid FROM ${table} WHERE processed_at < now() - make_interval(secs => $1::float8 / 1000) LIMIT 5000)`,
        [retentionMs],
      );
      total += res[1];
      if (res[1] < 5000) return total;
      await delay(10);
    }
  }

  /** Deletes published rows past retention, in small batches so it never holds long locks. */
  async prune(): Promise<number> {
    const retentionMs = this.opts.retentionMs ?? 0;
    let total = 0;
    for (;;) {
      const res: [unknown[], number] = await this.acrossTenants((m) =>
        m.query(
          `DELETE FROM ${this.table} WHERE id IN (
             SELECT id FROM ${this.table}
              WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1::float8 / 1000)
              LIMIT 5000)`,
          [retentionMs],
        ),
      );
      total += res[1];
      if (res[1] < 5000) return total;
      await delay(10);
    }
  }
}

/**
 * What `work` resolved to, if it did before `deadline` (a Date.now() time); undefined when it failed or the deadline
 * came first. A failure arriving later is swallowed.
 */
async function resultBy<T>(work: Promise<T>, deadline: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work.catch(() => undefined),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now())))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
