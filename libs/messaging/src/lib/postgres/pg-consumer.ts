import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { Pool } from 'pg';
import { Backoff, Wakeable } from '../core/backoff';
import type { BackoffOptions } from '../core/backoff';
import type { ConsumerHandle, Subscription } from '../core/transport.port';
import { LogReader } from './log-reader';
import { PartitionWorker } from './partition-worker';
import { partitionFor } from './partitioner';

export interface PgConsumerOptions {
  url: string;
  pool: Pool;
  subscription: Subscription;
  partitionsOf(topic: string): Promise<number>;
  /** How often members heartbeat and rebalance (default 1000 ms). */
  rebalanceIntervalMs: number;
  /** A member whose heartbeat is older than this is considered gone (default 10 s). */
  sessionTimeoutMs: number;
  batchSize: number;
  pollIntervalMs: number;
  commitIntervalMs: number;
  backoff?: BackoffOptions;
  onError(message: string, err: unknown): void;
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * One member of a consumer group on the postgres log.
 *
 * Ownership of a partition is a session advisory lock held on this member's dedicated connection:
 * if the process dies or the connection is cut, PostgreSQL releases the locks and another member takes
 * the partitions over. Members register in `messaging.group_members` (with their backend pid, the topics they
 * read and a heartbeat) and deterministically split each topic's partitions between the live members that read
 * it, so two members of one version each get half, and a topic only some members read (during a rolling deploy
 * that adds it) is split among those. A partition changes hands only after its worker finished its in-flight
 * handler.
 */
export class PgConsumer implements ConsumerHandle {
  readonly memberId = randomUUID();
  private session: Client | null = null;
  private sessionBroken = false;
  private readonly workers = new Map<string, { topic: string; partition: number; worker: PartitionWorker }>();
  private readonly reader: LogReader;
  private stopped = false;
  private readonly ticker = new Wakeable();
  private loop: Promise<void> | null = null;

  constructor(private readonly o: PgConsumerOptions) {
    this.reader = new LogReader(o.pool, o.batchSize);
  }

  start(): void {
    this.loop = this.run();
  }

  /** Wakes the workers of `topic` (only `partitions` when given); no topic wakes every worker. */
  wake(topic?: string, partitions?: Set<number>): void {
    for (const w of this.workers.values()) {
      if (topic && w.topic !== topic) continue;
      if (partitions && !partitions.has(w.partition)) continue;
      w.worker.wake();
    }
  }

  /** Partitions currently owned, as `topic/partition` (for tests and diagnostics). */
  assignment(): string[] {
    return [...this.workers.values()].map((w) => `${w.topic}/${w.partition}`).sort();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ticker.wake();
    await this.loop;
    await this.releaseAll();
    const session = this.session;
    this.session = null;
    if (session) {
      await session
        .query('DELETE FROM messaging.group_members WHERE group_id = $1 AND member_id = $2', [this.o.subscription.groupId, this.memberId])
        .catch(() => undefined);
      await session.end().catch(() => undefined);
    }
  }

  async lag(): Promise<number> {
    const { rows } = await this.o.pool.query<{ lag: string | null }>(
      `SELECT sum(h.next_offset - coalesce(o.committed_offset, 0)) AS lag
         FROM messaging.partition_heads h
         LEFT JOIN messaging.consumer_offsets o
           ON o.group_id = $1 AND o.topic = h.topic AND o.partition = h.partition
        WHERE h.topic = ANY($2::text[])`,
      [this.o.subscription.groupId, this.o.subscription.topics],
    );
    return Number(rows[0].lag ?? 0);
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(this.o.backoff);
    while (!this.stopped) {
      let sleepMs = this.o.rebalanceIntervalMs;
      try {
        if (this.sessionBroken) await this.dropSession();
        await this.rebalance();
        backoff.reset();
      } catch (err) {
        this.o.onError(`consumer group ${this.o.subscription.groupId}: rebalance failed`, err);
        this.sessionBroken = true;
        sleepMs = backoff.nextDelayMs();
      }
      if (!this.stopped) await this.ticker.sleep(sleepMs);
    }
  }

  private async openSession(): Promise<Client> {
    if (this.session) return this.session;
    const client = new Client({ connectionString: this.o.url, application_name: 'tessera-consumer', keepAlive: true });
    client.on('error', (err) => {
      // The connection died: every lock it held is gone, so stop working on those partitions now.
      this.o.onError(`consumer group ${this.o.subscription.groupId}: session lost`, err);
      this.sessionBroken = true;
      this.ticker.wake();
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.session = client;
    this.sessionBroken = false;
    return client;
  }

  private async dropSession(): Promise<void> {
    // Workers of a lost session might be overtaken any moment; their offset CAS keeps them honest,
    // and stopping them first keeps at most one reader per partition in the common case.
    await this.releaseAll(false);
    const session = this.session;
    this.session = null;
    this.sessionBroken = false;
    if (session) await session.end().catch(() => undefined);
  }

  private async rebalance(): Promise<void> {
    const { groupId } = this.o.subscription;
    const topics = [...new Set(this.o.subscription.topics)].sort();
    const session = await this.openSession();
    await session.query(
      `INSERT INTO messaging.group_members (group_id, member_id, backend_pid, topics) VALUES ($1, $2, pg_backend_pid(), $3)
       ON CONFLICT (group_id, member_id) DO UPDATE SET backend_pid = EXCLUDED.backend_pid, topics = EXCLUDED.topics, heartbeat_at = now()`,
      [groupId, this.memberId, topics],
    );
    // A member is alive while its session is (its pid is still a backend) and it heartbeats.
    const { rows: members } = await session.query<{ member_id: string; topics: string[] | null }>(
      `SELECT member_id, topics FROM messaging.group_members m
        WHERE group_id = $1
          AND heartbeat_at > now() - make_interval(secs => $2::float8 / 1000)
          AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.backend_pid)
        ORDER BY member_id`,
      [groupId, this.o.sessionTimeoutMs],
    );
    await session.query(
      `DELETE FROM messaging.group_members m
        WHERE group_id = $1 AND (heartbeat_at < now() - make_interval(secs => $2::float8 / 1000)
          OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.backend_pid))`,
      [groupId, this.o.sessionTimeoutMs * 3],
    );
    const all: { topic: string; partition: number }[] = [];
    const mine = new Set<string>();
    for (const topic of topics) {
      // Every member computes the same split from the same rows: the topic's readers in member id order (a member
      // of an older version, which records no topics, counts as reading all of them), starting at an offset of
      // the topic's own so that topics with fewer partitions than readers do not all land on the first reader.
      const readers = members.filter((m) => m.topics === null || m.topics.includes(topic)).map((m) => m.member_id);
      const me = readers.indexOf(this.memberId);
      const first = partitionFor(topic, Math.max(readers.length, 1));
      const n = await this.o.partitionsOf(topic);
      for (let p = 0; p < n; p++) {
        all.push({ topic, partition: p });
        if (me >= 0 && (p + first) % readers.length === me) mine.add(key(topic, p));
      }
    }

    for (const [k, w] of [...this.workers]) {
      if (!mine.has(k) || w.worker.lost) await this.release(k);
    }
    for (const tp of all) {
      const k = key(tp.topic, tp.partition);
      if (!mine.has(k) || this.workers.has(k) || this.stopped) continue;
      const { rows } = await session.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
        [this.lockName(tp.topic, tp.partition)],
      );
      // Not free yet: the previous owner is finishing its handler; try again next tick.
      if (!rows[0].locked) continue;
      this.workers.set(k, {
        ...tp,
        worker: new PartitionWorker({
          pool: this.o.pool,
          reader: this.reader,
          groupId,
          topic: tp.topic,
          partition: tp.partition,
          handle: (e, meta) => this.o.subscription.handle(e, meta),
          handleBatch: this.o.subscription.handleBatch?.bind(this.o.subscription),
          beforeFirstRead: this.o.subscription.beforeAssigned?.bind(this.o.subscription),
          batchSize: this.o.batchSize,
          pollIntervalMs: this.o.pollIntervalMs,
          commitIntervalMs: this.o.commitIntervalMs,
          backoff: this.o.backoff,
          onError: this.o.onError,
        }),
      });
    }
  }

  private lockName(topic: string, partition: number): string {
    return `tessera.messaging:${this.o.subscription.groupId}|${topic}|${partition}`;
  }

  private async release(k: string, unlock = true): Promise<void> {
    const w = this.workers.get(k);
    if (!w) return;
    await w.worker.stop();
    this.workers.delete(k);
    if (unlock && this.session && !this.sessionBroken) {
      await this.session
        .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [this.lockName(w.topic, w.partition)])
        .catch(() => {
          this.sessionBroken = true;
        });
    }
  }

  private async releaseAll(unlock = true): Promise<void> {
    // Let every in-flight handler finish in parallel, then unlock one by one on the session.
    await Promise.all([...this.workers.values()].map((w) => w.worker.stop()));
    for (const k of [...this.workers.keys()]) await this.release(k, unlock);
  }
}
