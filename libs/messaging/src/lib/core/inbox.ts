import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventEnvelope } from '@tessera/contracts';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { quoteSchema } from './sql-names';

export interface InboxOptions {
  dataSource: DataSource;
  schema: string;
  groupId: string;
}

export interface InboxTx<T = unknown> {
  manager: EntityManager;
  tenantId: string;
  event: EventEnvelope<T>;
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
  /** The first error an inbox effect raised in this batch; the batch can then only roll back. */
  failure: { error: unknown } | null = null;

  constructor(readonly dataSource: DataSource) {}

  async manager(): Promise<EntityManager> {
    if (this.failure) throw new InboxBatchFailedError(this.failure.error);
    if (!this.runner) {
      const runner = this.dataSource.createQueryRunner();
      try {
        await runner.connect();
        await runner.startTransaction();
      } catch (err) {
        await runner.release().catch(() => undefined);
        throw err;
      }
      this.runner = runner;
    }
    return this.runner.manager;
  }

  /** Through the query runner, so `afterTransactionCommit` subscribers (the relay's nudge) see the commit. */
  async commit(): Promise<void> {
    const runner = this.runner;
    if (!runner) return;
    this.runner = null;
    try {
      await runner.commitTransaction();
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
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
      if (runner.isTransactionActive) await runner.rollbackTransaction();
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
  private readonly table: string;

  constructor(private readonly opts: InboxOptions) {
    this.table = `${quoteSchema(opts.schema)}.processed_events`;
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
    return this.opts.dataSource.transaction((manager) => this.apply(manager, event, effect));
  }

  /**
   * Runs `work` (which calls `run` for a batch of events, in order) with one transaction for all of them,
   * committed when `work` resolves. If `work` or any effect throws, the whole batch rolls back and the error is
   * rethrown: the caller redoes the events one by one, so a failing event is retried alone and nothing after it is
   * applied first. Nested calls join the outer batch.
   */
  async runBatch<R>(work: () => Promise<R>): Promise<R> {
    if (batches.getStore()?.dataSource === this.opts.dataSource) return work();
    const batch = new InboxBatch(this.opts.dataSource);
    let result: R;
    try {
      result = await batches.run(batch, work);
      // A handler may have caught an effect's error and carried on: the transaction still holds partial writes.
      if (batch.failure) throw batch.failure.error;
    } catch (err) {
      await batch.rollback().catch(() => undefined);
      throw err;
    }
    await batch.commit();
    return result;
  }

  private async runInBatch<T>(batch: InboxBatch, event: EventEnvelope<T>, effect: (tx: InboxTx<T>) => Promise<void>): Promise<InboxOutcome> {
    const manager = await batch.manager();
    try {
      return await this.apply(manager, event, effect);
    } catch (err) {
      batch.failure ??= { error: err };
      throw err;
    }
  }

  private async apply<T>(manager: EntityManager, event: EventEnvelope<T>, effect: (tx: InboxTx<T>) => Promise<void>): Promise<InboxOutcome> {
    // One round trip: set_config(..., true) is SET LOCAL that accepts a parameter, evaluated in the FROM clause before
    // the row is inserted; the tenant lasts only for this transaction (in a batch, until the next event sets its own,
    // always before its effect). A concurrent duplicate blocks on the primary key until the first one commits or
    // rolls back; a duplicate inside the same batch conflicts with the batch's own uncommitted row.
    const inserted: unknown[] = await manager.query(
      `INSERT INTO ${this.table} (consumer_group, event_id, tenant_id)
       SELECT $1::text, $2::uuid, $3::uuid FROM (SELECT set_config('app.tenant_id', $4, true)) AS tenant
       ON CONFLICT DO NOTHING RETURNING event_id`,
      [this.opts.groupId, event.id, event.tenantid, event.tenantid],
    );
    if (inserted.length === 0) return 'duplicate';
    await effect({ manager, tenantId: event.tenantid, event });
    return 'applied';
  }
}
