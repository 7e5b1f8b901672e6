import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { EventEnvelope } from '@tessera/contracts';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import {
  PreparedQuery,
  beginTransaction,
  commitTransaction,
  connectionOf,
  inTransaction,
  rollbackTransaction,
  sendWithoutWaiting,
} from '@tessera/persistence';
import { quoteSchema } from './sql-names';

export interface InboxOptions {
  dataSource: DataSource;
  schema: string;
  groupId: string;
  /**
   * Most batch transactions of this inbox open at once (default 2). Batches handed over while that many run wait,
   * and all those waiting then share the next transaction: under load, the partitions a consumer reads in parallel
   * commit together instead of each paying a transaction for a handful of events.
   */
  maxConcurrentBatches?: number;
}

/** A `runBatch` call waiting for its turn, in the async context of its caller. */
interface QueuedBatch {
  work: () => Promise<unknown>;
  events: readonly EventEnvelope[];
  inCallerContext: <T>(fn: () => T) => T;
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

/** Events past which waiting batches start a transaction of their own rather than join a larger one. */
const MAX_EVENTS_PER_TRANSACTION = 1000;

export interface InboxTx<T = unknown> {
  manager: EntityManager;
  tenantId: string;
  event: EventEnvelope<T>;
  /**
   * Every event of the transaction this one runs in, in order (just `event` outside a batch): a handler may load
   * or lock what they all need in one statement, on its first event, instead of a round trip per event.
   */
  batch: readonly EventEnvelope[];
}

export type InboxOutcome = 'applied' | 'duplicate';

/**
 * The one transaction a batch of events shares (`Inbox.runBatch`). It is opened by the first `Inbox.run` that joins
 * it, so a batch whose handlers never use the inbox holds no connection. Events are not isolated from each other
 * by savepoints (a savepoint per event costs round trips and, past 64 per transaction, slows every snapshot of the
 * server): one failing event fails the whole batch, which rolls back and is redone event by event.
 */
class InboxBatch {
  private runner: QueryRunner | null = null;
  private opening: Promise<QueryRunner> | null = null;
  /** The first error an inbox effect raised in this batch; the batch can then only roll back. */
  failure: { error: unknown } | null = null;
  /** Events of the batch whose ids the first `run` claims for `claimGroup` in one statement. */
  unclaimed: readonly EventEnvelope[];
  /** All the events of the batch, in order. */
  readonly events: readonly EventEnvelope[];
  claiming: Promise<void> | null = null;
  /** Ids of the batch: claimed (true: newly, so the effect is due; false: already processed or just applied). */
  readonly claims = new Map<string, boolean>();
  /** The tenant this transaction's `app.tenant_id` holds, to set it only when the next event's differs. */
  tenant: string | null = null;

  constructor(
    readonly dataSource: DataSource,
    readonly claimGroup: string,
    events: readonly EventEnvelope[],
  ) {
    this.unclaimed = events;
    this.events = events;
  }

  /**
   * A batch's events run one after another (the tenant is a setting of the one transaction); should two calls
   * overlap anyway, they share the transaction rather than open a second one that would wait on the first's locks.
   */
  async manager(): Promise<EntityManager> {
    if (this.failure) throw new InboxBatchFailedError(this.failure.error);
    this.opening ??= this.open();
    return (await this.opening).manager;
  }

  private async open(): Promise<QueryRunner> {
    const runner = this.dataSource.createQueryRunner();
    try {
      // Pipelined: BEGIN goes out just ahead of the claim that follows.
      await beginTransaction(runner);
    } catch (err) {
      await runner.release().catch(() => undefined);
      throw err;
    }
    this.runner = runner;
    return runner;
  }

  /** Through the query runner, so `afterTransactionCommit` subscribers (the relay's nudge) see the commit. */
  async commit(): Promise<void> {
    const runner = this.runner;
    if (!runner) return;
    this.runner = null;
    try {
      await commitTransaction(runner);
    } catch (err) {
      await rollbackTransaction(runner).catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  async rollback(): Promise<void> {
    const runner = this.runner;
    if (!runner) return;
    this.runner = null;
    try {
      await rollbackTransaction(runner);
    } finally {
      await runner.release();
    }
  }
}

/** Thrown by `Inbox.run` inside a batch that already failed: nothing more may be applied in it. */
export class InboxBatchFailedError extends Error {
  constructor(override readonly cause: unknown) {
    super(`the inbox batch already failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

const batches = new AsyncLocalStorage<InboxBatch>();

/**
 * Idempotent consumption: the event id goes into `processed_events` in the same transaction as the
 * effect, with the tenant set for RLS from the event. A redelivered event (after a rebalance, a relay
 * retry or a consumer crash) finds its id and changes nothing.
 *
 * Inside `runBatch(work)`, every `run` on the same DataSource joins the batch's one transaction instead of
 * opening its own, so handlers written for `run` are batched unchanged.
 */
export class Inbox {
  /**
   * One round trip: set_config(..., true) is SET LOCAL that accepts a parameter, evaluated in the FROM clause before
   * the row is inserted; the tenant lasts only for this transaction (in a batch, until the next event sets its own,
   * always before its effect). A concurrent duplicate blocks on the primary key until the first one commits or
   * rolls back; a duplicate inside the same batch conflicts with the batch's own uncommitted row.
   */
  private readonly claimOne: PreparedQuery;
  private readonly claimAll: PreparedQuery;
  private readonly setTenant = new PreparedQuery(`SELECT set_config('app.tenant_id', $1, true)`);

  constructor(private readonly opts: InboxOptions) {
    const table = `${quoteSchema(opts.schema)}.processed_events`;
    this.claimOne = new PreparedQuery(
      `INSERT INTO ${table} (consumer_group, event_id, tenant_id)
       SELECT $1::text, $2::uuid, $3::uuid FROM (SELECT set_config('app.tenant_id', $4, true)) AS tenant
       ON CONFLICT DO NOTHING RETURNING event_id`,
    );
    // The same, for a batch's ids at once, setting the tenant of the event about to run.
    this.claimAll = new PreparedQuery(
      `INSERT INTO ${table} (consumer_group, event_id, tenant_id)
       SELECT $1::text, e.id, e.tenant
         FROM (SELECT set_config('app.tenant_id', $4, true)) AS tenant,
              unnest($2::uuid[], $3::uuid[]) WITH ORDINALITY AS e(id, tenant, ord)
        ORDER BY e.ord
       ON CONFLICT DO NOTHING RETURNING event_id`,
    );
  }

  static run<T>(opts: InboxOptions, event: EventEnvelope<T>, effect: (tx: InboxTx<T>) => Promise<void>): Promise<InboxOutcome> {
    return new Inbox(opts).run(event, effect);
  }

  get groupId(): string {
    return this.opts.groupId;
  }

  async run<T>(event: EventEnvelope<T>, effect: (tx: InboxTx<T>) => Promise<void>): Promise<InboxOutcome> {
    const batch = batches.getStore();
    if (batch && batch.dataSource === this.opts.dataSource) return this.runInBatch(batch, event, effect);
    return inTransaction(this.opts.dataSource, (manager) => this.apply(manager, event, effect));
  }

  /**
   * Runs `work` (which calls `run` for a batch of events, in order) with one transaction for all of them,
   * committed when `work` resolves. If `work` or any effect throws, the whole batch rolls back and the error is
   * rethrown: the caller redoes the events one by one, so a failing event is retried alone and nothing after it is
   * applied first. Nested calls join the outer batch.
   *
   * `events`, when given, are the batch's events in order: the first `run` then claims all their ids in one
   * statement instead of one per event, and sets the tenant only when it changes from one event to the next. An
   * event whose handler never calls `run` is still recorded as processed when the batch commits, which is what its
   * acknowledgement means anyway.
   */
  async runBatch<R>(work: () => Promise<R>, { events = [] }: { events?: readonly EventEnvelope[] } = {}): Promise<R> {
    if (batches.getStore()?.dataSource === this.opts.dataSource) return work();
    return new Promise<R>((resolve, reject) => {
      this.queue.push({
        work,
        events,
        // The work runs later, maybe from another caller's continuation: it keeps its own caller's async context.
        inCallerContext: AsyncResource.bind(<T>(fn: () => T): T => fn()),
        resolve: resolve as (result: unknown) => void,
        reject,
      });
      this.pump();
    });
  }

  private readonly queue: QueuedBatch[] = [];
  private running = 0;

  private pump(): void {
    while (this.running < (this.opts.maxConcurrentBatches ?? 2) && this.queue.length > 0) {
      let events = 0;
      let n = 0;
      while (n < this.queue.length && (n === 0 || events + this.queue[n].events.length <= MAX_EVENTS_PER_TRANSACTION)) {
        events += this.queue[n].events.length;
        n++;
      }
      const group = this.queue.splice(0, n);
      this.running++;
      void this.runGroup(group).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /**
   * The group's works one after another in one transaction; each caller learns its outcome after the commit. If it
   * fails, nothing of it committed: with several works, each is run again alone, so one partition's failing event
   * fails only its own caller.
   */
  private async runGroup(group: QueuedBatch[]): Promise<void> {
    const batch = new InboxBatch(this.opts.dataSource, this.opts.groupId, group.flatMap((q) => q.events));
    const results: unknown[] = [];
    try {
      for (const q of group) results.push(await q.inCallerContext(() => batches.run(batch, q.work)));
      // A handler may have caught an effect's error and carried on: the transaction still holds partial writes.
      if (batch.failure) throw batch.failure.error;
      await batch.commit();
    } catch (err) {
      await batch.rollback().catch(() => undefined);
      if (group.length === 1) return group[0].reject(err);
      for (const q of group) await this.runGroup([q]);
      return;
    }
    group.forEach((q, i) => q.resolve(results[i]));
  }

  private async runInBatch<T>(batch: InboxBatch, event: EventEnvelope<T>, effect: (tx: InboxTx<T>) => Promise<void>): Promise<InboxOutcome> {
    const manager = await batch.manager();
    try {
      const due = batch.claimGroup === this.opts.groupId ? await this.claimed(manager, batch, event) : undefined;
      // Another group's inbox, or not one of the batch's events: the one-event path, which sets the tenant itself.
      if (due === undefined) {
        batch.tenant = event.tenantid;
        return await this.apply(manager, event, effect, batch.events.length > 0 ? batch.events : [event]);
      }
      if (!due) return 'duplicate';
      batch.claims.set(event.id.toLowerCase(), false);
      if (batch.tenant !== event.tenantid) {
        // Not waited for: the effect's first statement follows it on the wire.
        const client = await connectionOf(manager);
        await sendWithoutWaiting(manager, client, this.setTenant.run(client, [event.tenantid]));
        batch.tenant = event.tenantid;
      }
      await effect({ manager, tenantId: event.tenantid, event, batch: batch.events });
      return 'applied';
    } catch (err) {
      batch.failure ??= { error: err };
      throw err;
    }
  }

  /**
   * One statement for the whole batch: rows for ids already processed (an earlier delivery) conflict and are not
   * returned, so their handlers are skipped; a concurrent consumer's uncommitted claim blocks until it ends.
   */
  private async claimed(manager: EntityManager, batch: InboxBatch, event: EventEnvelope): Promise<boolean | undefined> {
    if (batch.unclaimed.length > 0) {
      const events = batch.unclaimed;
      batch.unclaimed = [];
      batch.claiming = (async () => {
        const { rows } = await this.claimAll.run<{ event_id: string }>(await connectionOf(manager), [
          this.opts.groupId,
          events.map((e) => e.id),
          events.map((e) => e.tenantid),
          event.tenantid,
        ]);
        batch.tenant = event.tenantid;
        // Keyed as PostgreSQL returns a uuid (lower case): an id sent in upper case was otherwise never found
        // among the claimed rows, so its event was taken for a duplicate and skipped, while its claim committed.
        for (const e of events) batch.claims.set(e.id.toLowerCase(), false);
        for (const r of rows) batch.claims.set(r.event_id, true);
      })();
    }
    await batch.claiming;
    return batch.claims.get(event.id.toLowerCase());
  }

  private async apply<T>(
    manager: EntityManager,
    event: EventEnvelope<T>,
    effect: (tx: InboxTx<T>) => Promise<void>,
    batch: readonly EventEnvelope[] = [event],
  ): Promise<InboxOutcome> {
    const { rows } = await this.claimOne.run(await connectionOf(manager), [this.opts.groupId, event.id, event.tenantid, event.tenantid]);
    if (rows.length === 0) return 'duplicate';
    await effect({ manager, tenantId: event.tenantid, event, batch });
    return 'applied';
  }
}
