import type { OutboxWriter } from '@tessera/messaging';
import type { TenantTransactions } from '@tessera/persistence';
import { preparedRows } from '@tessera/persistence';
import type { EntityManager } from 'typeorm';
import { assertSku } from './lines';
import { PendingEvents } from './events';
import { reserveBatch, type PreparedReservation } from './reservation-engine';
import { pgCode } from './errors';
import type { NormalizedLine } from './types';

interface QueuedRow {
  id: string;
  idempotency_key: string;
  lines: NormalizedLine[];
  ttl_seconds: number;
  actor: string | null;
  correlation_id: string | null;
  existing_id: string | null;
}

export interface HotQueueOptions {
  /** Requests served per transaction. */
  batchSize?: number;
  /** How often `start()` polls the queue heads, for requests whose wake-up was lost (e.g. after a restart). */
  pollMs?: number;
}

/**
 * The hot-SKU path. Requests for a hot SKU wait in `reservation_requests`; one worker at a time per SKU (the
 * head row, locked SKIP LOCKED) takes the oldest batch and allocates it in one transaction against one locked
 * set of stock rows. Throughput then costs one lock round per batch instead of one per request, and the order of
 * service is the order of arrival. Outcomes are the usual reservation events, plus the request row's outcome.
 */
export class HotQueue {
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly draining = new Map<string, Promise<number>>();
  private readonly again = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  /** Retried batch aborts since start (a deadlock should never happen: canonical lock order). */
  readonly retries = { deadlock: 0, duplicateReference: 0 };

  constructor(
    private readonly tenants: TenantTransactions,
    private readonly outbox: OutboxWriter,
    opts: HotQueueOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 100;
    this.pollMs = opts.pollMs ?? 500;
  }

  /** Flags a SKU hot (staff); `ttlSeconds` makes the flag lapse on its own. */
  async flag(tenantId: string, sku: string, ttlSeconds?: number): Promise<void> {
    assertSku(sku);
    await this.tenants.run(tenantId, (tx) =>
      tx.manager.query(
        `INSERT INTO hot_skus (sku, source, expires_at) VALUES ($1, 'staff', CASE WHEN $2::int IS NULL THEN NULL ELSE now() + make_interval(secs => $2::int) END)
         ON CONFLICT (tenant_id, sku) DO UPDATE SET source = 'staff', expires_at = EXCLUDED.expires_at`,
        [sku, ttlSeconds ?? null],
      ),
    );
  }

  async unflag(tenantId: string, sku: string): Promise<void> {
    assertSku(sku);
    await this.tenants.run(tenantId, (tx) => tx.manager.query(`DELETE FROM hot_skus WHERE sku = $1`, [sku]));
  }

  /** Hot SKUs in SKU order, a keyset page of `limit` after the SKU `after`; `next` is the last one when more follow. */
  async hotSkus(
    tenantId: string,
    page: { after?: string; limit: number },
  ): Promise<{ items: { sku: string; source: 'staff' | 'detected'; expiresAt: Date | null }[]; next: string | null }> {
    const rows: { sku: string; source: 'staff' | 'detected'; expires_at: Date | null }[] = await this.tenants.run(tenantId, (tx) =>
      tx.manager.query(
        `SELECT sku, source, expires_at FROM hot_skus
          WHERE (expires_at IS NULL OR expires_at > now()) AND ($1::text IS NULL OR sku > $1)
          ORDER BY sku LIMIT $2`,
        [page.after ?? null, page.limit + 1],
      ),
    );
    const more = rows.length > page.limit;
    const items = rows.slice(0, page.limit).map((r) => ({ sku: r.sku, source: r.source, expiresAt: r.expires_at }));
    return { items, next: more ? items[items.length - 1].sku : null };
  }

  /**
   * Serves one batch of the SKU's queue. Returns how many requests it settled; 0 when the queue is empty or another
   * worker holds it right now.
   */
  async processBatch(tenantId: string, sku: string): Promise<number> {
    return (await this.serve(tenantId, sku)).settled;
  }

  /**
   * One batch in one transaction: the head and the oldest requests in one statement, the stock rows of their lines
   * locked in another, then every reservation, stock row, ledger row and request outcome written by one statement.
   * A batch that leaves the queue empty removes the head in the same transaction (`drained`), so an idle queue
   * costs no further transaction.
   */
  private async serve(tenantId: string, sku: string): Promise<{ settled: number; drained: boolean }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.tenants.run(tenantId, async (tx) => {
          const m = tx.manager;
          const rows = await preparedRows<QueuedRow>(
            m,
            // NO KEY UPDATE: one worker per SKU, without blocking the enqueuers' KEY SHARE locks. No row at all:
            // another worker holds the head, or there is none; one row with a null id: the head is ours, the queue empty.
            `WITH head AS (
               SELECT 1 FROM hot_queue_heads WHERE tenant_id = $1 AND sku = $2 FOR NO KEY UPDATE SKIP LOCKED
             ), queued AS (
               SELECT q.id, q.idempotency_key, q.lines, q.ttl_seconds, q.actor, q.correlation_id, r.id AS existing_id, q.seq
               FROM reservation_requests q LEFT JOIN reservations r ON r.reference = q.idempotency_key
               WHERE q.sku = $2 AND q.status = 'queued' AND EXISTS (SELECT 1 FROM head)
               ORDER BY q.seq LIMIT $3
               FOR UPDATE OF q
             )
             SELECT q.id, q.idempotency_key, q.lines, q.ttl_seconds, q.actor, q.correlation_id, q.existing_id
             FROM head LEFT JOIN queued q ON true ORDER BY q.seq`,
            [tenantId, sku, this.batchSize],
          );
          if (rows.length === 0) return { settled: 0, drained: false };
          const queued = rows.filter((q) => q.id !== null);
          const fresh = queued.filter((q) => !q.existing_id);
          const duplicates = queued.filter((q) => q.existing_id).map((q) => ({ id: q.id, outcome: 'duplicate', reservation_id: q.existing_id }));
          // Each keeps who asked and why (the causing event); the queue itself is only named for requests without one.
          const requests: PreparedReservation[] = fresh.map((q) => ({
            reference: q.idempotency_key,
            lines: q.lines,
            ttlSeconds: q.ttl_seconds,
            ...(q.actor || q.correlation_id ? { actor: { actor: q.actor ?? 'system:hot-queue', correlationId: q.correlation_id } } : {}),
          }));
          const events = new PendingEvents();
          if (requests.length > 0) {
            // The request rows' outcomes ride in the statement that writes the reservations.
            await reserveBatch(m, events, requests, { actor: 'system:hot-queue' }, [], (decided, p) => [
              `settled AS (
                 UPDATE reservation_requests q SET status = 'done', outcome = x.outcome, reservation_id = x.reservation_id, updated_at = now()
                 FROM jsonb_to_recordset(${p.add(
                   JSON.stringify([...duplicates, ...fresh.map((q, i) => ({ id: q.id, outcome: decided[i].status, reservation_id: decided[i].reservationId }))]),
                 )}::jsonb) AS x(id uuid, outcome text, reservation_id uuid) WHERE q.id = x.id
               )`,
            ]);
          } else if (duplicates.length > 0) {
            await m.query(
              `UPDATE reservation_requests q SET status = 'done', outcome = x.outcome, reservation_id = x.reservation_id, updated_at = now()
               FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, outcome text, reservation_id uuid) WHERE q.id = x.id`,
              [JSON.stringify(duplicates)],
            );
          }
          await events.flush(this.outbox, tx);
          const drained = queued.length < this.batchSize && (await this.dropHeadIfEmpty(m, tenantId, sku));
          return { settled: queued.length, drained };
        });
      } catch (e) {
        // A reference reserved on the normal path meanwhile (the SKU just turned hot): retry, it is now a duplicate.
        if (attempt < 3 && (pgCode(e) === '23505' || pgCode(e) === '40P01')) {
          if (pgCode(e) === '40P01') this.retries.deadlock++;
          else this.retries.duplicateReference++;
          continue;
        }
        throw e;
      }
    }
  }

  /**
   * Removes the head of an empty queue, in the batch's transaction (which holds it FOR NO KEY UPDATE). Taking it FOR
   * UPDATE SKIP LOCKED leaves it alone while an enqueuer holds it (KEY SHARE): that enqueuer wakes a worker after its
   * commit. Once locked here, new enqueuers wait for this transaction and re-create the head if it was deleted, and
   * the NOT EXISTS below runs on a fresh snapshot (a new statement, READ COMMITTED) that sees every request committed
   * before the lock. True when the head is gone.
   */
  private async dropHeadIfEmpty(manager: EntityManager, tenantId: string, sku: string): Promise<boolean> {
    const head = await preparedRows(manager, `SELECT 1 FROM hot_queue_heads WHERE tenant_id = $1 AND sku = $2 FOR UPDATE SKIP LOCKED`, [tenantId, sku]);
    if (head.length === 0) return false;
    const deleted = await preparedRows(
      manager,
      `DELETE FROM hot_queue_heads WHERE tenant_id = $1 AND sku = $2
         AND NOT EXISTS (SELECT 1 FROM reservation_requests WHERE sku = $2 AND status = 'queued')
       RETURNING 1`,
      [tenantId, sku],
    );
    return deleted.length > 0;
  }

  /**
   * Serves the SKU's queue until it is empty. Concurrent calls for one SKU share one drain loop; a call while it
   * runs makes it go round once more (the caller's request may have committed after the loop's last look).
   */
  drain(tenantId: string, sku: string): Promise<number> {
    const key = `${tenantId}\u0000${sku}`;
    const running = this.draining.get(key);
    if (running) {
      this.again.add(key);
      return running;
    }
    const loop = (async () => {
      let total = 0;
      try {
        for (;;) {
          this.again.delete(key);
          const { settled, drained } = await this.serve(tenantId, sku);
          total += settled;
          if ((settled === 0 || drained) && !this.again.has(key)) return total;
        }
      } finally {
        this.draining.delete(key);
      }
    })();
    this.draining.set(key, loop);
    return loop;
  }

  /** Drains every queue that has work, across tenants (the `hot_queue_heads` work index). */
  async drainAll(): Promise<number> {
    const heads: { tenant_id: string; sku: string }[] = await this.tenants.runWithoutTenant((m) =>
      m.query(`SELECT tenant_id, sku FROM hot_queue_heads ORDER BY touched_at`),
    );
    const counts = await Promise.all(heads.map((h) => this.drain(h.tenant_id, h.sku)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Wake-up after an enqueue; errors are left for the poller's next round. */
  kick(tenantId: string, sku: string): void {
    this.drain(tenantId, sku).catch(() => undefined);
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.drainAll()
        .catch(() => undefined)
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.pollMs);
        });
    };
    this.timer = setTimeout(tick, this.pollMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.draining.values()]);
  }
}
