import type { OutboxWriter } from '@tessera/messaging';
import type { TenantTransactions, TenantTx } from '@tessera/persistence';
import { InventoryError, invalid, notFound, pgCode } from './errors';
import { PendingEvents } from './events';
import { normalizeLines } from './lines';
import {
  endReservations,
  findReservation,
  outcomeOf,
  rejectWithoutLock,
  reserveBatch,
  snapshotShortfalls,
  SNAPSHOT_AVAILABLE_SQL,
  type EndKind,
  type PreparedReservation,
} from './reservation-engine';
import type { Actor, Reservation, ReservationOutcome, ReserveRequest } from './types';

export const DEFAULT_TTL_SECONDS = 15 * 60;
const MAX_TTL_SECONDS = 7 * 24 * 3600;

export interface HotPathOptions {
  /** Route requests for hot SKUs through the queue (default true). */
  enabled: boolean;
  /**
   * Detect contention: the normal path waits at most `lockTimeoutMs` for a stock row lock; a timeout marks the
   * SKU hot for `detectedTtlSeconds` and enqueues the request instead of joining the lock convoy.
   */
  detectContention: boolean;
  lockTimeoutMs: number;
  detectedTtlSeconds: number;
}

export interface ReservationServiceOptions {
  hotPath?: Partial<HotPathOptions>;
  /** Called after a request was enqueued and committed, to wake the hot-queue worker. */
  onEnqueued?: (tenantId: string, sku: string) => void;
}

const SQL_DUPLICATE_REFERENCE = 'reservations_reference_key';

/** Transient conflicts worth one more attempt: a concurrent duplicate reference, or a serialization/deadlock abort. */
function retryable(e: unknown): boolean {
  const code = pgCode(e);
  if (code === '40001' || code === '40P01') return true;
  return code === '23505' && String((e as { constraint?: string }).constraint ?? (e as Error).message).includes(SQL_DUPLICATE_REFERENCE);
}

function assertReference(reference: unknown): string {
  if (typeof reference !== 'string' || reference.length < 1 || reference.length > 200) {
    throw invalid('invalid_reference', 'reference must be 1 to 200 characters', { reference });
  }
  return reference;
}

/**
 * Reservations: all lines or none, allocated across locations by priority, idempotent per reference, ended by
 * commit, release or expiry. Requests for hot SKUs go through the reservation-request queue (see HotQueue).
 */
export class ReservationService {
  readonly hotPath: HotPathOptions;
  /**
   * Retried aborts since start. Deadlocks are retried for safety but should never happen (canonical lock order):
   * tests assert the count stays 0, and it is worth a metric.
   */
  readonly retries = { deadlock: 0, duplicateReference: 0, contended: 0 };

  constructor(
    private readonly tenants: TenantTransactions,
    private readonly outbox: OutboxWriter,
    private readonly opts: ReservationServiceOptions = {},
  ) {
    this.hotPath = { enabled: true, detectContention: false, lockTimeoutMs: 250, detectedTtlSeconds: 60, ...opts.hotPath };
  }

  private get detecting(): boolean {
    return this.hotPath.enabled && this.hotPath.detectContention;
  }

  async reserve(tenantId: string, request: ReserveRequest, actor?: Actor): Promise<ReservationOutcome> {
    const reference = assertReference(request.reference);
    const lines = normalizeLines(request.lines);
    if (request.ttlSeconds !== undefined && (!Number.isInteger(request.ttlSeconds) || request.ttlSeconds < 1 || request.ttlSeconds > MAX_TTL_SECONDS)) {
      throw invalid('invalid_ttl', `ttlSeconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await this.tenants.run(tenantId, (tx) => this.reserveInTx(tx, { reference, lines, ttlSeconds: request.ttlSeconds ?? 0 }, actor));
        if (outcome.sku) this.opts.onEnqueued?.(tenantId, outcome.sku);
        return outcome.result;
      } catch (e) {
        if (pgCode(e) === '55P03' && this.detecting) {
          this.retries.contended++;
          const outcome = await this.tenants.run(tenantId, (tx) => this.enqueueContended(tx, { reference, lines, ttlSeconds: request.ttlSeconds ?? 0 }));
          if (outcome.sku) this.opts.onEnqueued?.(tenantId, outcome.sku);
          return outcome.result;
        }
        if (attempt < 3 && retryable(e)) {
          if (pgCode(e) === '40P01') this.retries.deadlock++;
          else this.retries.duplicateReference++;
          continue;
        }
        throw e;
      }
    }
  }

  private async reserveInTx(
    tx: TenantTx,
    req: PreparedReservation,
    actor: Actor | undefined,
  ): Promise<{ result: ReservationOutcome; sku?: string }> {
    const m = tx.manager;
    const [state]: {
      ttl: number | null;
      hot: string[] | null;
      existing: boolean;
      queued: string | null;
      available: { sku: string; condition: string; available: number }[] | null;
    }[] = await m.query(
      // Also sets this transaction's lock timeout (0: wait as long as it takes) to spare a round trip.
      `SELECT set_config('lock_timeout', $4, true) AS lock_timeout,
              (SELECT reservation_ttl_seconds FROM tenant_settings) AS ttl,
              (${SNAPSHOT_AVAILABLE_SQL}) AS available,
              (SELECT array_agg(sku ORDER BY sku) FROM hot_skus
                WHERE sku = ANY($1::text[]) AND (expires_at IS NULL OR expires_at > now())) AS hot,
              EXISTS (SELECT 1 FROM reservations WHERE reference = $3) AS existing,
              (SELECT id FROM reservation_requests WHERE idempotency_key = $3 AND status IN ('queued', 'processing')) AS queued`,
      [req.lines.map((l) => l.sku), req.lines.map((l) => l.condition), req.reference, this.detecting ? `${this.hotPath.lockTimeoutMs}ms` : '0'],
    );
    if (state.existing) return { result: outcomeOf((await findReservation(m, req.reference)) as Reservation) };
    if (state.queued) return { result: { status: 'queued', requestId: state.queued, reference: req.reference } };
    const prepared = { ...req, ttlSeconds: req.ttlSeconds || state.ttl || DEFAULT_TTL_SECONDS };
    const events = new PendingEvents();
    const shortfalls = snapshotShortfalls(prepared.lines, state.available);
    if (shortfalls.length > 0) {
      const rejected = await rejectWithoutLock(m, events, prepared, shortfalls);
      await events.flush(this.outbox, tx);
      return { result: rejected };
    }
    if (this.hotPath.enabled && state.hot && state.hot.length > 0) {
      const requestId = await this.enqueue(tx, prepared, state.hot[0]);
      return { result: { status: 'queued', requestId, reference: req.reference }, sku: state.hot[0] };
    }
    const [outcome] = await reserveBatch(m, events, [prepared], actor);
    await events.flush(this.outbox, tx);
    return { result: outcome };
  }

  /** After a lock timeout: mark the contended SKUs hot for a while and queue the request behind them. */
  private async enqueueContended(tx: TenantTx, req: PreparedReservation): Promise<{ result: ReservationOutcome; sku?: string }> {
    const existing = await findReservation(tx.manager, req.reference);
    if (existing) return { result: outcomeOf(existing) };
    const skus = req.lines.map((l) => l.sku);
    await tx.manager.query(
      `INSERT INTO hot_skus (sku, source, expires_at)
       SELECT s, 'detected', now() + make_interval(secs => $2) FROM unnest($1::text[]) s
       ON CONFLICT (tenant_id, sku) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE hot_skus.source = 'detected'`,
      [skus, this.hotPath.detectedTtlSeconds],
    );
    const [{ ttl }]: { ttl: number | null }[] = await tx.manager.query(`SELECT (SELECT reservation_ttl_seconds FROM tenant_settings) AS ttl`);
    const prepared = { ...req, ttlSeconds: req.ttlSeconds || ttl || DEFAULT_TTL_SECONDS };
    const requestId = await this.enqueue(tx, prepared, skus[0]);
    return { result: { status: 'queued', requestId, reference: req.reference }, sku: skus[0] };
  }

  /**
   * Queues a request under one SKU (the first hot one of its lines, so a request is served once), and makes sure
   * the SKU's head row, which tells the worker the queue has work, exists until this transaction ends: FOR KEY SHARE
   * lets any number of enqueuers hold it at once (no convoy on the head) while the worker's delete of an empty
   * queue's head waits for them, so a request never sits in a queue whose head is gone.
   */
  private async enqueue(tx: TenantTx, req: PreparedReservation, sku: string): Promise<string> {
    // One round trip in the common case: the request row, and the head held if it exists.
    const [row]: { id: string | null; held: boolean }[] = await tx.manager.query(
      `WITH ins AS (
         INSERT INTO reservation_requests (idempotency_key, sku, lines, ttl_seconds, is_hot)
         VALUES ($1, $2, $3::jsonb, $4, true)
         ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id
       ), head AS (
         SELECT 1 FROM hot_queue_heads WHERE tenant_id = $5 AND sku = $2 FOR KEY SHARE
       )
       SELECT (SELECT id FROM ins) AS id, EXISTS (SELECT 1 FROM head) AS held`,
      [req.reference, sku, JSON.stringify(req.lines), req.ttlSeconds, tx.tenantId],
    );
    const id = row.id ?? (await tx.manager.query(`SELECT id FROM reservation_requests WHERE idempotency_key = $1`, [req.reference]))[0].id;
    let held = row.held;
    while (!held) {
      const created: unknown[] = await tx.manager.query(
        `INSERT INTO hot_queue_heads (tenant_id, sku) VALUES ($1, $2) ON CONFLICT (tenant_id, sku) DO NOTHING RETURNING 1`,
        [tx.tenantId, sku],
      );
      if (created.length > 0) break;
      const again: unknown[] = await tx.manager.query(
        `SELECT 1 FROM hot_queue_heads WHERE tenant_id = $1 AND sku = $2 FOR KEY SHARE`,
        [tx.tenantId, sku],
      );
      held = again.length > 0;
    }
    return id;
  }

  /** Commits an active reservation: on hand and reserved drop together. Idempotent once committed. */
  commit(tenantId: string, reference: string, actor?: Actor): Promise<Reservation> {
    return this.end(tenantId, reference, 'commit', actor);
  }

  /**
   * Releases an active reservation back to available. Idempotent once released (or expired). A request still waiting
   * in the hot-SKU queue is withdrawn instead (null): the worker locks the requests it serves, so a release either
   * withdraws the request before it is served or finds the reservation it produced.
   */
  async release(tenantId: string, reference: string, actor?: Actor): Promise<Reservation | null> {
    assertReference(reference);
    // Wrapped in a SELECT: TypeORM answers a bare UPDATE ... RETURNING with [rows, count], not rows.
    const withdrawn: unknown[] = await this.tenants.run(tenantId, (tx) =>
      tx.manager.query(
        `WITH w AS (
           UPDATE reservation_requests SET status = 'done', outcome = 'withdrawn', updated_at = now()
           WHERE idempotency_key = $1 AND status = 'queued' RETURNING id
         ) SELECT id FROM w`,
        [reference],
      ),
    );
    if (withdrawn.length > 0) return null;
    return this.end(tenantId, reference, 'release', actor);
  }

  private async end(tenantId: string, reference: string, kind: EndKind, actor?: Actor): Promise<Reservation> {
    assertReference(reference);
    return this.tenants.run(tenantId, async (tx) => {
      const r = await findReservation(tx.manager, reference, true);
      if (!r) throw notFound('reservation', reference);
      const done = kind === 'commit' ? ['committed'] : ['released', 'expired'];
      if (done.includes(r.status)) return r;
      if (r.status !== 'active') {
        throw new InventoryError('conflict', 'reservation_not_active', `reservation ${reference} is ${r.status}`, { reference, status: r.status });
      }
      const events = new PendingEvents();
      await endReservations(tx.manager, events, [r], kind, actor);
      await events.flush(this.outbox, tx);
      return (await findReservation(tx.manager, reference)) as Reservation;
    });
  }

  get(tenantId: string, reference: string): Promise<Reservation | null> {
    return this.tenants.run(tenantId, (tx) => findReservation(tx.manager, reference));
  }

  /**
   * Expires this tenant's due reservations, a batch per transaction. SKIP LOCKED: a reservation being committed
   * or released right now is left to that transaction, and two sweepers never wait on each other.
   */
  async expireDue(tenantId: string, batchSize = 200): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.tenants.run(tenantId, async (tx) => {
        const due: { id: string; reference: string }[] = await tx.manager.query(
          `SELECT id, reference FROM reservations WHERE status = 'active' AND expires_at <= now()
           ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [batchSize],
        );
        const events = new PendingEvents();
        await endReservations(tx.manager, events, due, 'expire', { actor: 'system:expiry' });
        await events.flush(this.outbox, tx);
        return due.length;
      });
      total += n;
      if (n < batchSize) return total;
    }
  }

  /** The sweeper over every tenant that has inventory (the `known_tenants` work index). */
  async expireDueAllTenants(batchSize = 200): Promise<number> {
    const tenants: { tenant_id: string }[] = await this.tenants.runWithoutTenant((m) => m.query(`SELECT tenant_id FROM known_tenants`));
    let total = 0;
    for (const t of tenants) total += await this.expireDue(t.tenant_id, batchSize);
    return total;
  }
}
