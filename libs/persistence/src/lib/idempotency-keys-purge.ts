import { Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { PURGE_EXPIRED_IDEMPOTENCY_KEYS } from './idempotency-keys-table';
import { assertSchemaName, ident } from './service-names';

// Constants rather than configuration: expired keys are dead weight, not wrong answers (an expired key is reused, see
// IdempotencyKeys), so how soon they go only bounds the table's size; no deployment has needed another value.
/** How often expired keys are purged. */
export const IDEMPOTENCY_PURGE_INTERVAL_MS = 10 * 60_000;
/** The first purge after start: soon, but not in the middle of the start itself. */
export const IDEMPOTENCY_PURGE_FIRST_DELAY_MS = 30_000;
/** Rows per DELETE: each batch is its own short transaction, so row locks and WAL come in small pieces. */
export const IDEMPOTENCY_PURGE_BATCH_SIZE = 1000;

export interface IdempotencyKeysPurgeOptions {
  intervalMs?: number;
  firstDelayMs?: number;
  batchSize?: number;
}

/**
 * Deletes expired `Idempotency-Key` rows of every tenant of a schema, in the background, through
 * `<schema>.purge_expired_idempotency_keys` (createIdempotencyKeysPurge): the runtime role cannot delete across
 * tenants itself. Every instance of a service may run it: concurrent purges only wait on each other's row locks.
 * Started on application bootstrap and stopped before the pool closes (PersistenceModule `purgeIdempotencyKeys`).
 */
export class IdempotencyKeysPurger implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('IdempotencyKeysPurge');
  private readonly sql: string;
  private readonly intervalMs: number;
  private readonly firstDelayMs: number;
  private readonly batchSize: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private started = false;
  /** Set by `stop`: a purge in progress ends after its current batch. */
  private halted = false;

  constructor(
    private readonly dataSource: DataSource,
    schema: string,
    options: IdempotencyKeysPurgeOptions = {},
  ) {
    this.sql = `SELECT ${ident(assertSchemaName(schema))}.${PURGE_EXPIRED_IDEMPOTENCY_KEYS}($1) AS n`;
    this.intervalMs = options.intervalMs ?? IDEMPOTENCY_PURGE_INTERVAL_MS;
    this.firstDelayMs = options.firstDelayMs ?? IDEMPOTENCY_PURGE_FIRST_DELAY_MS;
    this.batchSize = options.batchSize ?? IDEMPOTENCY_PURGE_BATCH_SIZE;
  }

  /**
   * Purges every key expired by now, a batch at a time until a batch comes back short; returns how many. One
   * statement per batch, outside any tenant transaction: the function needs no tenant. Stops between batches once
   * `stop` was called.
   */
  async purge(): Promise<number> {
    let total = 0;
    for (;;) {
      const [{ n }] = (await this.dataSource.query(this.sql, [this.batchSize])) as { n: number }[];
      total += n;
      if (n < this.batchSize || this.halted) return total;
    }
  }

  /** Runs `purge` after `firstDelayMs`, then every `intervalMs` after the previous run ended (runs never overlap). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.halted = false;
    this.schedule(this.firstDelayMs);
  }

  /** Cancels the next run and waits for one in progress, so that it never meets a closed pool. */
  async stop(): Promise<void> {
    this.started = false;
    this.halted = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  // Before, not on, shutdown: PersistenceModule closes the pool in onApplicationShutdown.
  beforeApplicationShutdown(): Promise<void> {
    return this.stop();
  }

  private schedule(delayMs: number): void {
    // unref: a pending purge never keeps the process alive.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.runOnce().finally(() => {
        this.running = null;
        if (this.started) this.schedule(this.intervalMs);
      });
    }, delayMs).unref();
  }

  private async runOnce(): Promise<void> {
    try {
      const purged = await this.purge();
      if (purged > 0) this.log.log(`purged ${purged} expired idempotency keys`);
    } catch (error) {
      // The next run retries; expired keys harm nothing meanwhile.
      this.log.warn(`purging expired idempotency keys failed (retried in ${this.intervalMs} ms): ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
