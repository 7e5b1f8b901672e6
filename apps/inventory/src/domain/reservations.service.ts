import type { OutboxWriter } from '@tessera/messaging';
import type { TenantTransactions, TenantTx } from '@tessera/persistence';
import { preparedRows } from '@tessera/persistence';
import { InventoryError, invalid, notFound, pgCode } from './errors';
import { PendingEvents } from './events';
import { normalizeLines } from './lines';
import {
  commitExpired,
  endReservations,
  findReservation,
  outcomeOf,
  reserveBatch,
  snapshotShortfalls,
  SNAPSHOT_AVAILABLE_SQL,
  type EndKind,
  type PreparedReservation,
} from './reservation-engine';
import { MAX_TTL_SECONDS, TTL_SETTINGS_SQL, ttlOf, type TtlSettings } from './reservation-ttl';
import { TenantBatcher } from './tenant-batcher';
import type { Actor, Reservation, ReservationOutcome, ReserveRequest, Shortfall } from './types';

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

/**
 * Concurrent reserve calls of one tenant share transactions: while `maxInFlight` batches run, new requests wait and
 * go together in the next one (at most `maxBatch`), so the statements and commits of a reservation are paid once
 * per batch. A lone request starts at once.
 */
export interface ReserveBatchingOptions {
  maxBatch: number;
  maxInFlight: number;
}

export interface ReservationServiceOptions {
  hotPath?: Partial<HotPathOptions>;
  batching?: Partial<ReserveBatchingOptions>;
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
  private readonly batcher: TenantBatcher<PreparedReservation, ReservationOutcome>;

  constructor(
    private readonly tenants: TenantTransactions,
    private readonly outbox: OutboxWriter,
    private readonly opts: ReservationServiceOptions = {},
  ) {
    this.hotPath = { enabled: true, detectContention: false, lockTimeoutMs: 250, detectedTtlSeconds: 60, ...opts.hotPath };
    this.batcher = new TenantBatcher({
      runBatch: (tenantId, reqs) => this.reserveNow(tenantId, reqs),
      runOne: (tenantId, req) => this.reserveOne(tenantId, req),
      key: (req) => req.reference,
      maxBatch: opts.batching?.maxBatch ?? 64,
      maxInFlight: opts.batching?.maxInFlight ?? 2,
    });
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
    return this.batcher.submit(tenantId, { reference, lines, ttlSeconds: request.ttlSeconds ?? 0, cashOnDelivery: request.cashOnDelivery === true, actor });
  }

  /** One transaction for a batch of requests; any error rolls all of it back (the batcher then goes one by one). */
  private async reserveNow(tenantId: string, reqs: PreparedReservation[]): Promise<ReservationOutcome[]> {
    const { results, enqueued } = await this.tenants.run(tenantId, (tx) => this.reserveInTx(tx, reqs));
    for (const sku of enqueued) this.opts.onEnqueued?.(tenantId, sku);
    return results;
  }

  /** A request on its own, retrying transient aborts, and queueing it behind a contended SKU on a lock timeout. */
  private async reserveOne(tenantId: string, req: PreparedReservation): Promise<ReservationOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        const [outcome] = await this.reserveNow(tenantId, [req]);
        return outcome;
      } catch (e) {
        if (pgCode(e) === '55P03' && this.detecting) {
          this.retries.contended++;
          const outcome = await this.tenants.run(tenantId, (tx) => this.enqueueContended(tx, req));
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

  /**
   * Decides a batch of requests (distinct references) with set-based statements: one read of the state every
   * request needs, then one lock of the stock rows of all requests that go the normal path and one write of every
   * decision, one insert for the requests that queue behind hot SKUs, and one outbox insert.
   */
  private async reserveInTx(tx: TenantTx, reqs: PreparedReservation[]): Promise<{ results: ReservationOutcome[]; enqueued: string[] }> {
    const m = tx.manager;
    await lockReferences(tx, reqs.map((r) => r.reference));
    const lines = reqs.flatMap((r) => r.lines);
    const [state] = await preparedRows<{
      ttl: TtlSettings;
      hot: string[] | null;
      existing: string[] | null;
      requests: { queued: Record<string, string> | null; withdrawn: string[] | null };
      available: { sku: string; condition: string; available: number }[] | null;
    }>(
      m,
      // Also sets this transaction's lock timeout (0: wait as long as it takes) to spare a round trip.
      `SELECT set_config('lock_timeout', $4, true) AS lock_timeout,
              ${TTL_SETTINGS_SQL} AS ttl,
              (${SNAPSHOT_AVAILABLE_SQL}) AS available,
              (SELECT array_agg(sku) FROM (
                 SELECT sku FROM hot_skus WHERE sku = ANY($1::text[]) AND (expires_at IS NULL OR expires_at > now())
                 -- A SKU whose queue still holds requests stays hot after its flag lapsed or was lifted: later
                 -- requests wait behind the earlier ones instead of taking the stock between the worker's batches.
                 UNION SELECT sku FROM hot_queue_heads
                  WHERE tenant_id = $5 AND sku = ANY($1::text[])) s) AS hot,
              (SELECT array_agg(reference) FROM reservations WHERE reference = ANY($3::text[])) AS existing,
              (SELECT json_build_object(
                 'queued', json_object_agg(idempotency_key, id) FILTER (WHERE status IN ('queued', 'processing')),
                 'withdrawn', json_agg(idempotency_key) FILTER (WHERE outcome = 'withdrawn'))
                 FROM reservation_requests WHERE idempotency_key = ANY($3::text[])) AS requests`,
      [
        lines.map((l) => l.sku),
        lines.map((l) => l.condition),
        reqs.map((r) => r.reference),
        this.detecting ? `${this.hotPath.lockTimeoutMs}ms` : '0',
        tx.tenantId,
      ],
    );
    const existing = new Set(state.existing ?? []);
    const withdrawn = new Set(state.requests.withdrawn ?? []);
    const hot = new Set(state.hot ?? []);
    const ready = [...reqs];
    const results: (ReservationOutcome | undefined)[] = new Array(reqs.length);
    const toLock: number[] = [];
    const rejected: { at: number; shortfalls: Shortfall[] }[] = [];
    const toQueue: { at: number; sku: string }[] = [];
    for (const [at, req] of reqs.entries()) {
      if (existing.has(req.reference)) {
        results[at] = outcomeOf((await findReservation(m, req.reference)) as Reservation);
        continue;
      }
      // Its order ended before this request was served or even arrived (see release): it holds nothing.
      if (withdrawn.has(req.reference)) {
        results[at] = { status: 'withdrawn', reference: req.reference };
        continue;
      }
      const queuedId = state.requests.queued?.[req.reference];
      if (queuedId) {
        results[at] = { status: 'queued', requestId: queuedId, reference: req.reference };
        continue;
      }
      ready[at] = { ...req, ttlSeconds: ttlOf(req, state.ttl) };
      const shortfalls = snapshotShortfalls(req.lines, state.available);
      // The first hot SKU of the request's lines (they are in SKU order), as enqueueContended picks it: a request
      // is queued under one SKU only, and requests for the same SKUs under the same one.
      const hotSku = this.hotPath.enabled ? req.lines.find((l) => hot.has(l.sku))?.sku : undefined;
      if (shortfalls.length > 0) rejected.push({ at, shortfalls });
      else if (hotSku) toQueue.push({ at, sku: hotSku });
      else toLock.push(at);
    }
    const events = new PendingEvents();
    const decided = await reserveBatch(
      m,
      events,
      toLock.map((at) => ready[at]),
      undefined,
      rejected.map(({ at, shortfalls }) => ({ req: ready[at], shortfalls })),
    );
    [...toLock, ...rejected.map((r) => r.at)].forEach((at, i) => (results[at] = decided[i]));
    const requestIds = await this.enqueue(tx, toQueue.map(({ at, sku }) => ({ req: ready[at], sku })));
    toQueue.forEach(({ at }, i) => (results[at] = { status: 'queued', requestId: requestIds[i], reference: ready[at].reference }));
    await events.flush(this.outbox, tx);
    return { results: results as ReservationOutcome[], enqueued: [...new Set(toQueue.map((q) => q.sku))] };
  }

  /** After a lock timeout: mark the contended SKUs hot for a while and queue the request behind them. */
  private async enqueueContended(tx: TenantTx, req: PreparedReservation): Promise<{ result: ReservationOutcome; sku?: string }> {
    await lockReferences(tx, [req.reference]);
    const existing = await findReservation(tx.manager, req.reference);
    if (existing) return { result: outcomeOf(existing) };
    const [marker]: { outcome: string | null }[] = await tx.manager.query(`SELECT outcome FROM reservation_requests WHERE idempotency_key = $1`, [req.reference]);
    if (marker?.outcome === 'withdrawn') return { result: { status: 'withdrawn', reference: req.reference } };
    // One SKU can have a line per condition; ON CONFLICT DO UPDATE may touch each row once per statement.
    const skus = [...new Set(req.lines.map((l) => l.sku))];
    await tx.manager.query(
      `INSERT INTO hot_skus (sku, source, expires_at)
       SELECT s, 'detected', now() + make_interval(secs => $2) FROM unnest($1::text[]) s
       ON CONFLICT (tenant_id, sku) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE hot_skus.source = 'detected'`,
      [skus, this.hotPath.detectedTtlSeconds],
    );
    const [{ ttl }]: { ttl: TtlSettings }[] = await tx.manager.query(`SELECT ${TTL_SETTINGS_SQL} AS ttl`);
    const prepared = { ...req, ttlSeconds: ttlOf(req, ttl) };
    const [requestId] = await this.enqueue(tx, [{ req: prepared, sku: skus[0] }]);
    return { result: { status: 'queued', requestId, reference: req.reference }, sku: skus[0] };
  }

  /**
   * Queues requests, each under one SKU (the first hot one of its lines, so a request is served once), and makes
   * sure each SKU's head row, which tells the worker the queue has work, exists until this transaction ends: FOR
   * KEY SHARE lets any number of enqueuers hold it at once (no convoy on the head) while the worker's delete of an
   * empty queue's head waits for them, so a request never sits in a queue whose head is gone. Answers the request
   * ids in the order of `items`; their seq (the order of service) follows that order too.
   */
  private async enqueue(tx: TenantTx, items: { req: PreparedReservation; sku: string }[]): Promise<string[]> {
    if (items.length === 0) return [];
    const skus = [...new Set(items.map((i) => i.sku))];
    // One round trip in the common case: the request rows, and the heads held where they exist.
    const [row] = await preparedRows<{ ids: Record<string, string> | null; held: string[] | null }>(
      tx.manager,
      `WITH ins AS (
         INSERT INTO reservation_requests (idempotency_key, sku, lines, ttl_seconds, is_hot, actor, correlation_id)
         SELECT x.key, x.sku, x.lines, x.ttl, true, x.actor, x.correlation_id
         FROM jsonb_to_recordset($1::jsonb) AS x(n int, key text, sku text, lines jsonb, ttl int, actor text, correlation_id text) ORDER BY x.n
         ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id, idempotency_key
       ), head AS (
         SELECT sku FROM hot_queue_heads WHERE tenant_id = $2 AND sku = ANY($3::text[]) FOR KEY SHARE
       )
       SELECT (SELECT json_object_agg(idempotency_key, id) FROM ins) AS ids, (SELECT array_agg(sku) FROM head) AS held`,
      [
        JSON.stringify(
          items.map(({ req, sku }, n) => ({
            n,
            key: req.reference,
            sku,
            lines: req.lines,
            ttl: req.ttlSeconds,
            actor: req.actor?.actor ?? null,
            correlation_id: req.actor?.correlationId ?? null,
          })),
        ),
        tx.tenantId,
        skus,
      ],
    );
    const ids = row.ids ?? {};
    const missing = items.map((i) => i.req.reference).filter((key) => !ids[key]);
    if (missing.length > 0) {
      const found: { id: string; idempotency_key: string }[] = await tx.manager.query(
        `SELECT id, idempotency_key FROM reservation_requests WHERE idempotency_key = ANY($1::text[])`,
        [missing],
      );
      for (const f of found) ids[f.idempotency_key] = f.id;
    }
    const held = new Set(row.held ?? []);
    for (const sku of skus) {
      while (!held.has(sku)) {
        const created: unknown[] = await tx.manager.query(
          `INSERT INTO hot_queue_heads (tenant_id, sku) VALUES ($1, $2) ON CONFLICT (tenant_id, sku) DO NOTHING RETURNING 1`,
          [tx.tenantId, sku],
        );
        if (created.length > 0) break;
        const again: unknown[] = await tx.manager.query(
          `SELECT 1 FROM hot_queue_heads WHERE tenant_id = $1 AND sku = $2 FOR KEY SHARE`,
          [tx.tenantId, sku],
        );
        if (again.length > 0) held.add(sku);
      }
    }
    return items.map((i) => ids[i.req.reference]);
  }

  /**
   * Commits an active reservation: on hand and reserved drop together. Idempotent once committed. An expired one
   * (its order was paid after the sweeper ran) is committed from the stock still available, or refused for good
   * (see commitExpired); a released one is a conflict.
   */
  commit(tenantId: string, reference: string, actor?: Actor): Promise<Reservation> {
    return this.end(tenantId, reference, 'commit', actor);
  }

  /**
   * Releases an active reservation back to available. Idempotent once released (or expired). A request still waiting
   * in the hot-SKU queue is withdrawn instead (null): the worker locks the requests it serves, so a release either
   * withdraws the request before it is served or finds the reservation it produced. A release that finds neither
   * (its order ended before inventory saw it placed: events of two orders' partitions, or a redelivery) leaves a
   * withdrawn request under the reference (null), so that the placement, when it comes, reserves nothing.
   */
  async release(tenantId: string, reference: string, actor?: Actor): Promise<Reservation | null> {
    assertReference(reference);
    return this.tenants.run(tenantId, async (tx) => {
      await lockReferences(tx, [reference]);
      // Wrapped in a SELECT: TypeORM answers a bare UPDATE ... RETURNING with [rows, count], not rows.
      const withdrawn: unknown[] = await tx.manager.query(
        `WITH w AS (
           UPDATE reservation_requests SET status = 'done', outcome = 'withdrawn', updated_at = now()
           WHERE idempotency_key = $1 AND status = 'queued' RETURNING id
         ) SELECT id FROM w`,
        [reference],
      );
      if (withdrawn.length > 0) return null;
      // A new statement, so a request the worker served meanwhile shows its reservation here.
      const r = await findReservation(tx.manager, reference, true);
      if (r) return this.endIn(tx, r, 'release', actor);
      await tx.manager.query(
        `INSERT INTO reservation_requests (idempotency_key, sku, lines, is_hot, status, outcome)
         VALUES ($1, '', '[]'::jsonb, false, 'done', 'withdrawn') ON CONFLICT (tenant_id, idempotency_key) DO NOTHING`,
        [reference],
      );
      return null;
    });
  }

  private async end(tenantId: string, reference: string, kind: EndKind, actor?: Actor): Promise<Reservation> {
    assertReference(reference);
    return this.tenants.run(tenantId, async (tx) => {
      const r = await findReservation(tx.manager, reference, true);
      if (!r) throw notFound('reservation', reference);
      return this.endIn(tx, r, kind, actor);
    });
  }

  /** Ends `r`, locked in `tx`: idempotent once ended that way; see commit and release. */
  private async endIn(tx: TenantTx, r: Reservation, kind: EndKind, actor?: Actor): Promise<Reservation> {
    const done = kind === 'commit' ? ['committed'] : ['released', 'expired'];
    if (done.includes(r.status)) return r;
    if (kind === 'commit' && r.status === 'expired') {
      // Paid after the sweeper expired it: committed if the stock is still there, else refused for good.
      if (r.commitRefusedAt) return r;
      const events = new PendingEvents();
      await commitExpired(tx.manager, events, r, actor);
      await events.flush(this.outbox, tx);
      return (await findReservation(tx.manager, r.reference)) as Reservation;
    }
    if (r.status !== 'active') {
      throw new InventoryError('conflict', 'reservation_not_active', `reservation ${r.reference} is ${r.status}`, { reference: r.reference, reservationStatus: r.status });
    }
    const events = new PendingEvents();
    await endReservations(tx.manager, events, [r], kind, actor);
    await events.flush(this.outbox, tx);
    return (await findReservation(tx.manager, r.reference)) as Reservation;
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
  async expireDueAllTenants(batchSize = 200, onTenantError?: (tenantId: string, error: unknown) => void): Promise<number> {
    const tenants: { tenant_id: string }[] = await this.tenants.runWithoutTenant((m) => m.query(`SELECT tenant_id FROM known_tenants`));
    let total = 0;
    const failures: unknown[] = [];
    // One tenant's failure must not leave the tenants after it unswept until it clears.
    for (const t of tenants) {
      try {
        total += await this.expireDue(t.tenant_id, batchSize);
      } catch (err) {
        failures.push(err);
        onTenantError?.(t.tenant_id, err);
      }
    }
    if (failures.length > 0 && !onTenantError) throw new AggregateError(failures, `expiry failed for ${failures.length} tenant(s)`);
    return total;
  }
}

/**
 * Puts the reservation and the release of the same references (orders) one after the other, until this transaction
 * ends. A release that ran while a reservation of its order was being decided found nothing yet, left its withdrawn
 * marker after the reservation had read its state, and the reservation then held stock for an order that had ended
 * until it expired (14 days for cash on delivery). Taken before any read, in one order (by key), so that batches
 * sharing references cannot deadlock; the statement after it reads what the other transaction committed.
 */
async function lockReferences(tx: TenantTx, references: string[]): Promise<void> {
  await tx.manager.query(
    `SELECT count(pg_advisory_xact_lock(k)) FROM (
       SELECT DISTINCT hashtextextended('tessera.inventory.reference:' || $1 || ':' || r, 0) AS k FROM unnest($2::text[]) r ORDER BY 1
     ) s`,
    [tx.tenantId, references],
  );
}
