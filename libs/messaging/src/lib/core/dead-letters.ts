import type { EventEnvelope } from '@tessera/contracts';
import { disableTenantRls, enableTenantRls, inTransaction, migrationClass, type MigrationClass } from '@tessera/persistence';
import type { DataSource, EntityManager } from 'typeorm';
import type { DeliveryMeta } from './transport.port';
import { quoteSchema } from './sql-names';

/**
 * Dead letters: an event whose handler keeps failing for a reason that retrying will not cure (a bug, data the
 * handler cannot accept) is parked in the consumer's `<schema>.dead_letters` after EVENT_MAX_ATTEMPTS attempts, and
 * its partition moves on. Without this one poison event stalls its whole partition, every tenant's events in it.
 *
 * Order per key is kept: while a key (the aggregate) has an open dead letter, the group's later events of that key
 * are parked behind it (`held`) instead of being applied ahead of it. An operator replays a key's open letters, in
 * order, once the cause is fixed, or discards the first one (`/internal/dead-letters`, the `dead-letters` tool).
 * Parking is never a loss: the letter keeps the whole envelope, and nothing is recorded as processed until it runs.
 */

/** Session setting under which the table shows every tenant's letters: only this module's statements set it. */
export const DEAD_LETTERS_SETTING = 'tessera.dead_letters';
export const DEAD_LETTERS_POLICY = 'dead_letters_operator';

export function deadLettersTableSql(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.dead_letters (
       id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
       seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
       consumer_group text NOT NULL,
       event_id uuid NOT NULL,
       tenant_id uuid NOT NULL,
       partition_key text NOT NULL,
       type text NOT NULL,
       topic text NOT NULL,
       partition integer NOT NULL,
       "offset" text NOT NULL,
       -- json, not jsonb: kept as received; jsonb refuses some text an event may carry (an escaped NUL character).
       envelope json NOT NULL,
       reason text NOT NULL CHECK (reason IN ('failed', 'held')),
       error text,
       attempts integer NOT NULL DEFAULT 0,
       parked_at timestamptz NOT NULL DEFAULT now(),
       resolved_at timestamptz,
       resolution text CHECK (resolution IN ('replayed', 'discarded')),
       CHECK ((resolved_at IS NULL) = (resolution IS NULL)),
       UNIQUE (consumer_group, event_id)
     )`,
    `CREATE INDEX IF NOT EXISTS dead_letters_open_idx ON ${s}.dead_letters (consumer_group, partition_key, seq) WHERE resolved_at IS NULL`,
  ];
}

/**
 * Creates `<schema>.dead_letters` under forced RLS like every tenant table (a letter holds its event's tenant data),
 * plus a policy for this module's own statements, which work across tenants under DEAD_LETTERS_SETTING.
 */
export function deadLettersMigration(schema: string, timestamp = 1797500000000): MigrationClass {
  const s = quoteSchema(schema);
  return migrationClass(`DeadLetters${timestamp}`, {
    async up(queryRunner) {
      for (const sql of deadLettersTableSql(schema)) await queryRunner.query(sql);
      await enableTenantRls(queryRunner, schema, 'dead_letters');
      await queryRunner.query(
        `CREATE POLICY ${DEAD_LETTERS_POLICY} ON ${s}.dead_letters USING (current_setting('${DEAD_LETTERS_SETTING}', true) = 'on')`,
      );
    },
    async down(queryRunner) {
      // Open letters are events already acknowledged to the transport: dropping them would lose them for good.
      await queryRunner.query(`SELECT set_config('${DEAD_LETTERS_SETTING}', 'on', true)`);
      const [open]: { n: number }[] = await queryRunner.query(`SELECT count(*)::int AS n FROM ${s}.dead_letters WHERE resolved_at IS NULL`);
      if (open.n > 0) {
        throw new Error(
          `${schema}.dead_letters holds ${open.n} open dead letter(s): replay or discard them (<service>:dead-letters) before reverting`,
        );
      }
      await queryRunner.query(`DROP POLICY IF EXISTS ${DEAD_LETTERS_POLICY} ON ${s}.dead_letters`);
      await disableTenantRls(queryRunner, schema, 'dead_letters');
      await queryRunner.query(`DROP TABLE IF EXISTS ${s}.dead_letters`);
    },
  });
}

export type DeadLetterStatus = 'open' | 'resolved';

export interface DeadLetter {
  id: string;
  consumerGroup: string;
  eventId: string;
  tenantId: string;
  partitionKey: string;
  type: string;
  topic: string;
  partition: number;
  offset: string;
  /** `failed`: its handler failed `attempts` times; `held`: parked behind an earlier letter of the same key. */
  reason: 'failed' | 'held';
  error: string | null;
  attempts: number;
  parkedAt: string;
  resolvedAt: string | null;
  resolution: 'replayed' | 'discarded' | null;
  envelope: EventEnvelope;
}

interface DeadLetterRow {
  id: string;
  seq: string;
  consumer_group: string;
  event_id: string;
  tenant_id: string;
  partition_key: string;
  type: string;
  topic: string;
  partition: number;
  offset: string;
  envelope: EventEnvelope;
  reason: 'failed' | 'held';
  error: string | null;
  attempts: number;
  parked_at: Date;
  resolved_at: Date | null;
  resolution: 'replayed' | 'discarded' | null;
}

function toLetter(r: DeadLetterRow): DeadLetter {
  return {
    id: r.id,
    consumerGroup: r.consumer_group,
    eventId: r.event_id,
    tenantId: r.tenant_id,
    partitionKey: r.partition_key,
    type: r.type,
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    reason: r.reason,
    error: r.error,
    attempts: r.attempts,
    parkedAt: r.parked_at.toISOString(),
    resolvedAt: r.resolved_at ? r.resolved_at.toISOString() : null,
    resolution: r.resolution,
    envelope: r.envelope,
  };
}

/** The key an event keeps its order under: its partition key, else its subject (what the relay partitions by). */
export function orderingKeyOf(event: EventEnvelope): string {
  return event.partitionkey ?? event.subject ?? event.id;
}

/** Longest error text kept per letter: a stack is enough to find the cause. */
const MAX_ERROR_CHARS = 8000;

export function describeFailure(err: unknown): string {
  const text = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : typeof err === 'object' ? safeJson(err) : String(err);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// SQLSTATEs that say "the database could not do it now", not "this event is bad": connection exceptions (08),
// invalid authorization (28: the service's credentials, not the event), transaction rollbacks such as serialization
// failures and deadlocks (40), insufficient resources (53), operator intervention such as a shutdown (57; but not
// 57014, a statement cancelled by its timeout, which a poison event's statement can hit every time), system errors
// (58), and a lock not available (55P03).
const TRANSIENT_SQLSTATE = /^(?!57014)(08|28|40|53|57|58)[0-9A-Z]{3}$|^55P03$/;
const TRANSIENT_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
const TRANSIENT_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i;

/**
 * True when a failure is the platform's, not the event's: retried for as long as it lasts and never parked, so that
 * a database or network outage cannot fill the dead letters with healthy events.
 */
export function isTransientFailure(err: unknown, depth = 0): boolean {
  if (depth > 5 || err === null || typeof err !== 'object') return false;
  const e = err as { code?: unknown; driverError?: unknown; cause?: unknown; message?: unknown; errors?: unknown; status?: unknown };
  if (typeof e.code === 'string' && (TRANSIENT_SQLSTATE.test(e.code) || TRANSIENT_ERRNO.has(e.code))) return true;
  if (typeof e.message === 'string' && TRANSIENT_MESSAGE.test(e.message)) return true;
  // What Nest's default RPC filter leaves of any error: the cause is unknown, so it must not count towards parking
  // (connectEventsServer installs the filter that keeps the real error).
  if (e.status === 'error' && e.message === 'Internal server error' && !(err instanceof Error)) return true;
  // Several attempts that all failed for a transient reason (e.g. connecting to each address of a host).
  if (Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every((x) => isTransientFailure(x, depth + 1))) return true;
  return isTransientFailure(e.driverError, depth + 1) || isTransientFailure(e.cause, depth + 1);
}

export interface DeadLettersOptions {
  dataSource: DataSource;
  schema: string;
  groupId: string;
}

export interface DeadLetterPage {
  items: DeadLetter[];
  nextCursor: string | null;
}

/** The store behind parking, holding, listing, replaying and discarding one consumer group's letters. */
export class DeadLetters {
  private readonly table: string;

  constructor(private readonly opts: DeadLettersOptions) {
    this.table = `${quoteSchema(opts.schema)}.dead_letters`;
  }

  get groupId(): string {
    return this.opts.groupId;
  }

  /**
   * Runs `work` in a transaction that sees every tenant's letters and holds the group's lock on `key`: parking,
   * holding and a replay's bookkeeping for one key take turns, so an event is never held behind a key whose last
   * letter a replay is just resolving, nor applied while its key still has letters.
   */
  private locked<T>(key: string | null, work: (m: EntityManager) => Promise<T>): Promise<T> {
    // The setting goes with BEGIN (persistence's inTransaction), not in a round trip of its own.
    return inTransaction(
      this.opts.dataSource,
      async (m) => {
        if (key !== null) await m.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`dead-letters:${this.opts.groupId}:${key}`]);
        return work(m);
      },
      { settings: { [DEAD_LETTERS_SETTING]: 'on' } },
    );
  }

  private async insert(m: EntityManager, event: EventEnvelope, meta: DeliveryMeta, reason: 'failed' | 'held', error: string | null, attempts: number): Promise<void> {
    await m.query(
      `INSERT INTO ${this.table}
         (consumer_group, event_id, tenant_id, partition_key, type, topic, partition, "offset", envelope, reason, error, attempts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (consumer_group, event_id) DO NOTHING`,
      [
        this.opts.groupId,
        event.id,
        event.tenantid,
        orderingKeyOf(event),
        event.type,
        meta.topic,
        meta.partition,
        meta.offset,
        JSON.stringify(event),
        reason,
        error,
        attempts,
      ],
    );
  }

  /** Parks an event whose handler failed `attempts` times. A letter for the same event already there is kept. */
  async park(event: EventEnvelope, meta: DeliveryMeta, failure: unknown, attempts: number): Promise<void> {
    await this.locked(orderingKeyOf(event), (m) => this.insert(m, event, meta, 'failed', describeFailure(failure), attempts));
  }

  /**
   * Parks `event` behind its key's open letters, if it has any: true when it is parked (or was already), false when
   * the key has none and the event is to be handled now.
   */
  async holdIfOpen(event: EventEnvelope, meta: DeliveryMeta): Promise<boolean> {
    const key = orderingKeyOf(event);
    return this.locked(key, async (m) => {
      const rows: { open: boolean }[] = await m.query(
        `SELECT EXISTS (SELECT 1 FROM ${this.table} WHERE consumer_group = $1 AND partition_key = $2 AND resolved_at IS NULL) AS open`,
        [this.opts.groupId, key],
      );
      if (!rows[0].open) return false;
      await this.insert(m, event, meta, 'held', null, 0);
      return true;
    });
  }

  /** The keys with open letters in this group, and how many letters are open. */
  async openKeys(): Promise<{ keys: Set<string>; letters: number }> {
    const rows: { partition_key: string; n: string }[] = await this.locked(null, (m) =>
      m.query(`SELECT partition_key, count(*) AS n FROM ${this.table} WHERE consumer_group = $1 AND resolved_at IS NULL GROUP BY partition_key`, [
        this.opts.groupId,
      ]),
    );
    return { keys: new Set(rows.map((r) => r.partition_key)), letters: rows.reduce((sum, r) => sum + Number(r.n), 0) };
  }

  /** The group's letters, oldest first: open ones, resolved ones, or all; `cursor` is the last page's nextCursor. */
  async list(q: { status?: DeadLetterStatus; limit: number; cursor?: string }): Promise<DeadLetterPage> {
    const after = q.cursor === undefined ? '0' : q.cursor;
    const rows: DeadLetterRow[] = await this.locked(null, (m) =>
      m.query(
        `SELECT * FROM ${this.table}
          WHERE consumer_group = $1 AND seq > $2::bigint
            AND ($3::text IS NULL OR ($3 = 'open') = (resolved_at IS NULL))
          ORDER BY seq LIMIT $4`,
        [this.opts.groupId, after, q.status ?? null, q.limit + 1],
      ),
    );
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    return { items: page.map(toLetter), nextCursor: more ? page[page.length - 1].seq : null };
  }

  async get(id: string): Promise<DeadLetter | null> {
    const rows: DeadLetterRow[] = await this.locked(null, (m) =>
      m.query(`SELECT * FROM ${this.table} WHERE consumer_group = $1 AND id = $2`, [this.opts.groupId, id]),
    );
    return rows.length === 0 ? null : toLetter(rows[0]);
  }

  /** The oldest open letter of `key`, the only one that may run or be discarded next. */
  async head(key: string): Promise<DeadLetter | null> {
    // Read without the key's lock: resolve() checks again under it.
    return this.locked(null, (m) => this.headIn(m, key));
  }

  private async headIn(m: EntityManager, key: string): Promise<DeadLetter | null> {
    const rows: DeadLetterRow[] = await m.query(
      `SELECT * FROM ${this.table} WHERE consumer_group = $1 AND partition_key = $2 AND resolved_at IS NULL ORDER BY seq LIMIT 1`,
      [this.opts.groupId, key],
    );
    return rows.length === 0 ? null : toLetter(rows[0]);
  }

  /** Resolves `letter` if it is still its key's head; false when it is not (another replay or discard got there). */
  async resolve(letter: DeadLetter, resolution: 'replayed' | 'discarded'): Promise<boolean> {
    return this.locked(letter.partitionKey, async (m) => {
      const head = await this.headIn(m, letter.partitionKey);
      if (head?.id !== letter.id) return false;
      await m.query(`UPDATE ${this.table} SET resolved_at = now(), resolution = $2 WHERE id = $1`, [letter.id, resolution]);
      return true;
    });
  }

  /** Records a failed replay: the letter stays open at the head of its key, now as `failed` with this error. */
  async failedAgain(letter: DeadLetter, failure: unknown): Promise<void> {
    await this.locked(letter.partitionKey, (m) =>
      m.query(`UPDATE ${this.table} SET reason = 'failed', error = $2, attempts = attempts + 1 WHERE id = $1 AND resolved_at IS NULL`, [
        letter.id,
        describeFailure(failure),
      ]),
    );
  }

  /**
   * Runs `work` holding the group's replay lock on `key` (a session lock, on a connection of its own, for the whole
   * replay): two replays of one key, from two operators or two members, would run its letters concurrently and could
   * apply a letter's effect after the next one's. Null, without running `work`, when another replay holds it.
   */
  async withReplayLock<T>(key: string, work: () => Promise<T>): Promise<T | null> {
    const runner = this.opts.dataSource.createQueryRunner();
    const lock = `dead-letters-replay:${this.opts.groupId}:${key}`;
    try {
      const [row]: { locked: boolean }[] = await runner.query('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [lock]);
      if (!row.locked) return null;
      try {
        return await work();
      } finally {
        await runner.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lock]).catch(() => undefined);
      }
    } finally {
      await runner.release();
    }
  }

  /**
   * Deletes the group's letters resolved longer ago than `retentionMs`, in small batches; open letters are never
   * deleted. Returns how many went.
   */
  async pruneResolved(retentionMs: number): Promise<number> {
    let total = 0;
    for (;;) {
      const [, deleted]: [unknown[], number] = await this.locked(null, (m) =>
        m.query(
          `DELETE FROM ${this.table} WHERE id IN (
             SELECT id FROM ${this.table}
              WHERE consumer_group = $1 AND resolved_at < now() - make_interval(secs => $2::float8 / 1000) LIMIT 5000)`,
          [this.opts.groupId, retentionMs],
        ),
      );
      total += deleted;
      if (deleted < 5000) return total;
    }
  }

  /** How many letters of `key` are open. */
  async openCount(key: string): Promise<number> {
    const rows: { n: string }[] = await this.locked(null, (m) =>
      m.query(`SELECT count(*) AS n FROM ${this.table} WHERE consumer_group = $1 AND partition_key = $2 AND resolved_at IS NULL`, [
        this.opts.groupId,
        key,
      ]),
    );
    return Number(rows[0].n);
  }
}
