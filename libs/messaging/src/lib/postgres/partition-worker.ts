import type { EventEnvelope } from '@tessera/contracts';
import type { Pool } from 'pg';
import { Backoff, Wakeable } from '../core/backoff';
import type { BackoffOptions } from '../core/backoff';
import { PreparedQuery } from '@tessera/persistence';
import type { DeliveredEvent, DeliveryMeta } from '../core/transport.port';
import type { LogReader, LogRow } from './log-reader';

const COMMIT = new PreparedQuery(
  `UPDATE messaging.consumer_offsets SET committed_offset = $4, updated_at = now()
    WHERE group_id = $1 AND topic = $2 AND partition = $3 AND committed_offset = $5`,
);

export interface PartitionWorkerOptions {
  pool: Pool;
  /** Reads shared with the consumer's other partitions (see LogReader). */
  reader: LogReader;
  groupId: string;
  topic: string;
  partition: number;
  handle(event: EventEnvelope, meta: DeliveryMeta): Promise<void>;
  /** When given, the rows read in one pass go to it together; on failure they are redone one by one. */
  handleBatch?(events: DeliveredEvent[]): Promise<void>;
  /** Awaited (retried with backoff while it throws) before the first read of this ownership. */
  beforeFirstRead?(): Promise<void>;
  batchSize: number;
  pollIntervalMs: number;
  /** Longest time handled progress may go uncommitted while events keep arriving. */
  commitIntervalMs: number;
  backoff?: BackoffOptions;
  onError(message: string, err: unknown): void;
}


/**
 * Reads one owned partition in offset order for one group: handler awaited, offset committed after
 * success, a failing handler retried with backoff without moving past its message. Offsets are
 * committed by compare-and-set, so a member that lost the partition can never move it back or forward.
 */
export class PartitionWorker {
  private stopped = false;
  private readonly wakeup = new Wakeable();
  /** The sleep between retries: only stop() cuts it short, not a publish (each would force a retry). */
  private readonly retryWait = new Wakeable();
  private readonly done: Promise<void>;
  /** Set when the committed offset moved under us: another member owns the partition now. */
  lost = false;

  constructor(private readonly o: PartitionWorkerOptions) {
    this.done = this.run();
  }

  get finished(): Promise<void> {
    return this.done;
  }

  wake(): void {
    this.wakeup.wake();
  }

  /** Lets the in-flight handler finish, commits progress, and ends the loop. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeup.wake();
    this.retryWait.wake();
    await this.done;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(this.o.backoff);
    let committed: bigint | null = null;
    let position: bigint | null = null;
    let committedAt = 0;
    let prepared = this.o.beforeFirstRead === undefined;
    while (!this.stopped && !this.lost) {
      try {
        if (!prepared) {
          await this.o.beforeFirstRead?.();
          prepared = true;
        }
        if (committed === null) {
          committed = await this.loadOffset();
          position = committed;
        }
        const rows = await this.read(position as bigint);
        backoff.reset();
        const idle = rows.length === 0;
        const drained = rows.length < this.o.batchSize;
        const end: bigint = idle ? (position as bigint) : BigInt(rows[rows.length - 1].offset) + 1n;
        if (!idle && !this.stopped && (await this.handleBatch(rows))) {
          position = end;
          rows.length = 0;
        }
        for (const row of rows) {
          if (this.stopped) break;
          const handled = await this.handleWithRetry(row, backoff);
          if (!handled) break;
          position = BigInt(row.offset) + 1n;
        }
        // Progress is committed at most every commitIntervalMs while events keep coming, and as soon as a read finds
        // the partition empty: a write transaction per small batch would cost as much as the batch itself. What a
        // crash loses is only the record of progress; the events after it are redelivered and the inbox absorbs them.
        const pending = position !== committed;
        if (pending && (idle || Date.now() - committedAt >= this.o.commitIntervalMs)) {
          await this.commit(committed, position as bigint);
          committed = position;
          committedAt = Date.now();
        }
        // A short read means the partition was drained as of that read: wait for the next wake (latched if a
        // publish already came meanwhile) instead of paying a round trip to read nothing; with progress not yet
        // committed, only until the commit is due.
        if (drained && position === end && !this.stopped) {
          const untilCommitDue = Math.max(1, committedAt + this.o.commitIntervalMs - Date.now());
          await this.wakeup.sleep(position !== committed ? Math.min(untilCommitDue, this.o.pollIntervalMs) : this.o.pollIntervalMs);
        }
      } catch (err) {
        this.o.onError(`partition ${this.o.topic}/${this.o.partition} (group ${this.o.groupId}) failed`, err);
        await this.retryWait.sleep(backoff.nextDelayMs());
      }
    }
    // Commit what was handled before leaving, so the next owner does not redo it.
    if (!this.lost && committed !== null && position !== null && position !== committed) {
      await this.commit(committed, position).catch(() => undefined);
    }
  }

  /**
   * The whole pass in one call, when the subscription handles batches. False (nothing moves) when there is no batch
   * handler or it failed: the caller then handles the rows one by one, retrying the failing one in place.
   */
  private async handleBatch(rows: LogRow[]): Promise<boolean> {
    if (!this.o.handleBatch) return false;
    const { topic, partition } = this.o;
    try {
      await this.o.handleBatch(rows.map((r) => ({ event: r.envelope, meta: { topic, partition, offset: r.offset } })));
      return true;
    } catch (err) {
      this.o.onError(`batch of ${rows.length} from ${topic}/${partition}@${rows[0].offset} failed; handling it event by event`, err);
      return false;
    }
  }

  /** Returns false when stopped while retrying (the message stays uncommitted). */
  private async handleWithRetry(row: LogRow, backoff: Backoff): Promise<boolean> {
    const meta: DeliveryMeta = { topic: this.o.topic, partition: this.o.partition, offset: row.offset };
    for (;;) {
      try {
        await this.o.handle(row.envelope, meta);
        backoff.reset();
        return true;
      } catch (err) {
        this.o.onError(`handler failed for ${row.envelope.type} ${row.envelope.id} at ${meta.topic}/${meta.partition}@${meta.offset}`, err);
        if (this.stopped) return false;
        await this.retryWait.sleep(backoff.nextDelayMs());
        if (this.stopped) return false;
      }
    }
  }

  private async loadOffset(): Promise<bigint> {
    const { pool, groupId, topic, partition } = this.o;
    // A new group starts at the oldest message still in the log.
    await pool.query(
      `INSERT INTO messaging.consumer_offsets (group_id, topic, partition, committed_offset)
       VALUES ($1, $2, $3, (SELECT coalesce(min("offset"), 0) FROM messaging.events WHERE topic = $2 AND partition = $3))
       ON CONFLICT DO NOTHING`,
      [groupId, topic, partition],
    );
    const { rows } = await pool.query<{ committed_offset: string }>(
      `SELECT committed_offset FROM messaging.consumer_offsets WHERE group_id = $1 AND topic = $2 AND partition = $3`,
      [groupId, topic, partition],
    );
    return BigInt(rows[0].committed_offset);
  }

  private read(from: bigint): Promise<LogRow[]> {
    return this.o.reader.read(this.o.topic, this.o.partition, from);
  }

  private async commit(expected: bigint, next: bigint): Promise<void> {
    const res = await COMMIT.run(this.o.pool, [this.o.groupId, this.o.topic, this.o.partition, next.toString(), expected.toString()]);
    if (res.rowCount === 0) this.lost = true;
  }
}
