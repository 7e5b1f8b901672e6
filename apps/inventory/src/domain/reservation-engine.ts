import {
  InventoryEventTypes,
  type ReservationAllocationV1,
  type ReservationCommitRefusedV1,
  type ReservationConfirmedV1,
  type ReservationEndedV1,
  type ReservationRejectedV1,
} from '@tessera/contracts';
import type { EntityManager } from 'typeorm';
import type { PendingEvents } from './events';
import { SqlParams, StockBook } from './stock-book';
import type { Actor, Allocation, NormalizedLine, Reservation, ReservationOutcome, ReservationStatus, Shortfall } from './types';
import { preparedRows, timeOrderedUuid } from '@tessera/persistence';

/** A validated request, ready to allocate; `actor` (who asked, the causing event) goes on its ledger rows. */
export interface PreparedReservation {
  reference: string;
  lines: NormalizedLine[];
  ttlSeconds: number;
  cashOnDelivery?: boolean;
  actor?: Actor;
}

type Decided = Exclude<ReservationOutcome, { status: 'queued' }>;

/** What a decision is known by before it is written: enough for writes joined to the same statement. */
export interface DecisionRef {
  status: Decided['status'];
  reservationId: string;
  reference: string;
}

const eventAllocations = (allocations: Allocation[]): ReservationAllocationV1[] =>
  allocations.map(({ sku, condition, locationId, quantity }) => ({ sku, condition, locationId, quantity }));

/**
 * Greedy allocation of every line against the locked rows, by location priority. All lines or none: the book
 * is changed only when every line is covered, so a rejected request leaves it exactly as it was.
 */
function allocate(book: StockBook, req: PreparedReservation, actor: Actor | undefined): { allocations: Allocation[] } | { shortfalls: Shortfall[] } {
  const plan: Allocation[] = [];
  const shortfalls: Shortfall[] = [];
  for (const line of req.lines) {
    const candidates = book.candidates(line.sku, line.condition);
    const total = candidates.reduce((n, r) => n + Math.max(r.available, 0), 0);
    if (total < line.quantity) {
      shortfalls.push({ sku: line.sku, condition: line.condition, requested: line.quantity, available: total });
      continue;
    }
    let remaining = line.quantity;
    for (const row of candidates) {
      if (remaining === 0) break;
      const take = Math.min(row.available, remaining);
      if (take <= 0) continue;
      plan.push({ stockLevelId: row.id, sku: row.sku, locationId: row.locationId, condition: row.condition, quantity: take });
      remaining -= take;
    }
  }
  if (shortfalls.length > 0) return { shortfalls };
  for (const a of plan) {
    book.apply(a.stockLevelId, { movement: 'reserve', deltaOnHand: 0, deltaReserved: a.quantity, reference: req.reference, actor: req.actor ?? actor });
  }
  return { allocations: plan };
}

/** The distinct (SKU, condition) pairs of some lines: the stock rows to lock for them. */
function stockKeys(lines: readonly NormalizedLine[]): { sku: string; condition: NormalizedLine['condition'] }[] {
  const keys = new Map<string, { sku: string; condition: NormalizedLine['condition'] }>();
  for (const l of lines) keys.set(`${l.condition}\u0000${l.sku}`, { sku: l.sku, condition: l.condition });
  return [...keys.values()];
}

/** A request already known to be short (from an unlocked snapshot), decided without locking anything. */
export interface PresetRejection {
  req: PreparedReservation;
  shortfalls: Shortfall[];
}

/**
 * Reserves a batch of requests in the caller's transaction, in array order, against one locked set of stock rows
 * (the union of their SKUs): one lock acquisition serves them all. `rejected` are written in the same statement.
 * `extraWrites` joins the caller's own CTEs to that statement; it receives each decision's reservation id first.
 * References must not have a reservation yet (the unique key on (tenant_id, reference) is the last word: a
 * duplicate aborts the transaction and the caller retries).
 */
export async function reserveBatch(
  manager: EntityManager,
  events: PendingEvents,
  requests: PreparedReservation[],
  actor?: Actor,
  rejected: PresetRejection[] = [],
  extraWrites?: (decided: DecisionRef[], p: SqlParams) => string[],
): Promise<Decided[]> {
  if (requests.length === 0 && rejected.length === 0) return [];
  const keys = stockKeys(requests.flatMap((r) => r.lines));
  const book = keys.length > 0 ? await StockBook.lockBySku(manager, keys) : undefined;
  const decisions: Decision[] = [
    ...requests.map((req) => ({ req, result: allocate(book as StockBook, req, actor) })),
    ...rejected.map(({ req, shortfalls }) => ({ req, result: { shortfalls } })),
  ];
  return persistDecisions(manager, events, decisions, book, extraWrites);
}

/**
 * Available units per line in a committed snapshot, without locking: `(condition, sku)` key → units. The sum is a
 * bigint: each stock row holds at most 2^31 − 1 units, but a SKU's rows together may hold more, and an int cast
 * failed every reservation of that SKU (the event then blocked its partition).
 */
export const SNAPSHOT_AVAILABLE_SQL = `
  SELECT json_agg(json_build_object('sku', k.sku, 'condition', k.condition, 'available', k.available))
  FROM (SELECT k.sku, k.condition, coalesce(sum(greatest(s.available, 0)), 0)::bigint AS available
        FROM (SELECT DISTINCT * FROM unnest($1::text[], $2::text[])) AS k(sku, condition)
        LEFT JOIN stock_levels s ON s.sku = k.sku AND s.condition = k.condition
        GROUP BY k.sku, k.condition) k`;

export function snapshotShortfalls(
  lines: NormalizedLine[],
  snapshot: { sku: string; condition: string; available: number }[] | null,
): Shortfall[] {
  const available = new Map((snapshot ?? []).map((r) => [`${r.condition}\u0000${r.sku}`, r.available]));
  return lines
    .map((l) => ({ sku: l.sku, condition: l.condition, requested: l.quantity, available: available.get(`${l.condition}\u0000${l.sku}`) ?? 0 }))
    .filter((l) => l.available < l.requested);
}

type Decision = { req: PreparedReservation; result: { allocations: Allocation[] } | { shortfalls: Shortfall[] } };

/**
 * Inserts the reservations and their allocations, with the book's stock rows and ledger rows when given, in one
 * statement (one round trip while the stock rows are locked), and queues their events. Outcomes come back in the
 * order of `decisions`.
 */
async function persistDecisions(
  manager: EntityManager,
  events: PendingEvents,
  decisions: Decision[],
  book?: StockBook,
  extraWrites?: (decided: DecisionRef[], p: SqlParams) => string[],
): Promise<Decided[]> {
  const decided = decisions.map((d) => ({ ...d, id: timeOrderedUuid() }));
  const reservations = decided.map(({ req, id, result }) => ({
    id,
    reference: req.reference,
    status: 'allocations' in result ? 'active' : 'rejected',
    lines: req.lines,
    shortfalls: 'shortfalls' in result ? result.shortfalls : null,
    ttl: req.ttlSeconds,
  }));
  const allocations = decided.flatMap(({ id, result }) =>
    'allocations' in result
      ? result.allocations.map((a) => ({ reservation_id: id, stock_level_id: a.stockLevelId, sku: a.sku, location_id: a.locationId, condition: a.condition, quantity: a.quantity }))
      : [],
  );
  const p = new SqlParams();
  // The allocations' foreign key sees the reservations inserted by the same statement (checks run at its end).
  const ctes = [
    `r AS (
       INSERT INTO reservations (id, reference, status, lines, shortfalls, expires_at, ended_at)
       SELECT x.id, x.reference, x.status, x.lines, x.shortfalls,
              CASE WHEN x.status = 'active' THEN now() + make_interval(secs => x.ttl) END,
              CASE WHEN x.status = 'rejected' THEN now() END
       FROM jsonb_to_recordset(${p.add(JSON.stringify(reservations))}::jsonb) AS x(id uuid, reference text, status text, lines jsonb, shortfalls jsonb, ttl int)
       RETURNING id, expires_at
     )`,
  ];
  if (allocations.length > 0) {
    ctes.push(`a AS (
       INSERT INTO reservation_allocations (reservation_id, stock_level_id, sku, location_id, condition, quantity)
       SELECT * FROM jsonb_to_recordset(${p.add(JSON.stringify(allocations))}::jsonb)
         AS y(reservation_id uuid, stock_level_id uuid, sku text, location_id uuid, condition text, quantity int)
     )`);
  }
  // What the caller joins needs only ids and statuses, known before the statement runs.
  const refs = decided.map(({ req, id, result }): DecisionRef => ({
    status: 'allocations' in result ? 'confirmed' : 'rejected',
    reservationId: id,
    reference: req.reference,
  }));
  if (extraWrites) ctes.push(...extraWrites(refs, p));
  const writes = { ctes, params: p, select: 'SELECT id, expires_at FROM r' };
  type Inserted = { id: string; expires_at: Date | null };
  const inserted = book
    ? await book.flush<Inserted>(manager, events, writes)
    : await preparedRows<Inserted>(manager, `WITH ${ctes.join(', ')} ${writes.select}`, p.values);
  const expiresAt = new Map(inserted.map((r) => [r.id, r.expires_at]));

  return decided.map(({ req, id, result }): Decided => {
    if ('allocations' in result) {
      const expires = expiresAt.get(id) as Date;
      const data: ReservationConfirmedV1 = {
        reservationId: id,
        reference: req.reference,
        lines: req.lines,
        allocations: eventAllocations(result.allocations),
        expiresAt: expires.toISOString(),
      };
      events.add(InventoryEventTypes.ReservationConfirmed, id, data, req.reference);
      return { status: 'confirmed', reservationId: id, reference: req.reference, expiresAt: expires, allocations: result.allocations };
    }
    const data: ReservationRejectedV1 = { reservationId: id, reference: req.reference, lines: req.lines, shortfalls: result.shortfalls };
    events.add(InventoryEventTypes.ReservationRejected, id, data, req.reference);
    return { status: 'rejected', reservationId: id, reference: req.reference, shortfalls: result.shortfalls };
  });
}

export type EndKind = 'release' | 'expire' | 'commit';

const END_STATUS: Record<EndKind, ReservationStatus> = { release: 'released', expire: 'expired', commit: 'committed' };
const END_EVENT: Record<EndKind, string> = {
  release: InventoryEventTypes.ReservationReleased,
  expire: InventoryEventTypes.ReservationExpired,
  commit: InventoryEventTypes.ReservationCommitted,
};

/**
 * Ends active reservations the caller has locked (FOR UPDATE): released and expired give the stock back to
 * available; committed takes it out of on hand and reserved together. One ledger row per allocation.
 */
export async function endReservations(
  manager: EntityManager,
  events: PendingEvents,
  reservations: { id: string; reference: string }[],
  kind: EndKind,
  actor?: Actor,
): Promise<void> {
  if (reservations.length === 0) return;
  const ids = reservations.map((r) => r.id);
  const allocations = await loadAllocations(manager, ids);
  const book = await StockBook.lockByIds(manager, [...allocations.values()].flat().map((a) => a.stockLevelId));
  for (const r of reservations) {
    for (const a of allocations.get(r.id) ?? []) {
      book.apply(a.stockLevelId, {
        movement: kind,
        deltaOnHand: kind === 'commit' ? -a.quantity : 0,
        deltaReserved: -a.quantity,
        reference: r.reference,
        actor,
      });
    }
  }
  await manager.query(`UPDATE reservations SET status = $2, ended_at = now() WHERE id = ANY($1::uuid[])`, [ids, END_STATUS[kind]]);
  await book.flush(manager, events);
  for (const r of reservations) {
    const data: ReservationEndedV1 = { reservationId: r.id, reference: r.reference, allocations: eventAllocations(allocations.get(r.id) ?? []) };
    events.add(END_EVENT[kind], r.id, data, r.reference);
  }
}

/**
 * The payment of an order arrived after its reservation expired (the sweeper ran first; orders had not heard of the
 * expiry yet and moved the order to paid). The customer has paid, so the stock is taken again, all lines or none, by
 * location priority as a new reservation would be, and committed at once: `committed`, with the new allocations.
 * If it is no longer all there, nothing changes but the reservation's `commit_refused_at`, which makes the refusal
 * final, and `commit_refused` tells orders the paid order cannot be fulfilled. The caller holds the reservation's
 * row lock (taken before any stock row: the lock order).
 */
export async function commitExpired(
  manager: EntityManager,
  events: PendingEvents,
  reservation: Reservation,
  actor?: Actor,
): Promise<'committed' | 'refused'> {
  const book = await StockBook.lockBySku(manager, stockKeys(reservation.lines));
  const req: PreparedReservation = { reference: reservation.reference, lines: reservation.lines, ttlSeconds: 0, actor };
  const result = allocate(book, req, actor);
  if ('shortfalls' in result) {
    await manager.query(`UPDATE reservations SET commit_refused_at = now() WHERE id = $1`, [reservation.id]);
    const data: ReservationCommitRefusedV1 = {
      reservationId: reservation.id,
      reference: reservation.reference,
      reason: 'expired',
      shortfalls: result.shortfalls,
    };
    events.add(InventoryEventTypes.ReservationCommitRefused, reservation.id, data, reservation.reference);
    return 'refused';
  }
  for (const a of result.allocations) {
    book.apply(a.stockLevelId, { movement: 'commit', deltaOnHand: -a.quantity, deltaReserved: -a.quantity, reference: reservation.reference, actor });
  }
  // The expired allocations give way to the ones committed, in the statement that writes the stock.
  const p = new SqlParams();
  const id = p.add(reservation.id);
  const allocations = p.add(
    JSON.stringify(result.allocations.map((a) => ({ stock_level_id: a.stockLevelId, sku: a.sku, location_id: a.locationId, condition: a.condition, quantity: a.quantity }))),
  );
  await book.flush(manager, events, {
    params: p,
    ctes: [
      `old_allocations AS (DELETE FROM reservation_allocations WHERE reservation_id = ${id}::uuid)`,
      `new_allocations AS (
         INSERT INTO reservation_allocations (reservation_id, stock_level_id, sku, location_id, condition, quantity)
         SELECT ${id}::uuid, y.* FROM jsonb_to_recordset(${allocations}::jsonb)
           AS y(stock_level_id uuid, sku text, location_id uuid, condition text, quantity int))`,
      `ended AS (UPDATE reservations SET status = 'committed', ended_at = now() WHERE id = ${id}::uuid)`,
    ],
    select: 'SELECT 1',
  });
  const data: ReservationEndedV1 = { reservationId: reservation.id, reference: reservation.reference, allocations: eventAllocations(result.allocations) };
  events.add(InventoryEventTypes.ReservationCommitted, reservation.id, data, reservation.reference);
  return 'committed';
}

interface AllocationRow {
  reservation_id: string;
  stock_level_id: string;
  sku: string;
  location_id: string;
  condition: Allocation['condition'];
  quantity: number;
}

export async function loadAllocations(manager: EntityManager, reservationIds: string[]): Promise<Map<string, Allocation[]>> {
  const rows: AllocationRow[] = await manager.query(
    `SELECT reservation_id, stock_level_id, sku, location_id, condition, quantity
     FROM reservation_allocations WHERE reservation_id = ANY($1::uuid[]) ORDER BY sku, condition, location_id`,
    [reservationIds],
  );
  const byReservation = new Map<string, Allocation[]>();
  for (const r of rows) {
    const list = byReservation.get(r.reservation_id) ?? [];
    list.push({ stockLevelId: r.stock_level_id, sku: r.sku, locationId: r.location_id, condition: r.condition, quantity: r.quantity });
    byReservation.set(r.reservation_id, list);
  }
  return byReservation;
}

interface ReservationRow {
  id: string;
  reference: string;
  status: ReservationStatus;
  lines: NormalizedLine[];
  shortfalls: Shortfall[] | null;
  expires_at: Date | null;
  created_at: Date;
  ended_at: Date | null;
  commit_refused_at: Date | null;
}

const RESERVATION_COLUMNS = 'id, reference, status, lines, shortfalls, expires_at, created_at, ended_at, commit_refused_at';

/** Reads a reservation by reference; `lock` takes its row FOR UPDATE (before any stock row: the lock order). */
export async function findReservation(manager: EntityManager, reference: string, lock = false): Promise<Reservation | null> {
  const rows: ReservationRow[] = await manager.query(
    `SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE reference = $1 ${lock ? 'FOR UPDATE' : ''}`,
    [reference],
  );
  if (rows.length === 0) return null;
  const allocations = await loadAllocations(manager, [rows[0].id]);
  return toReservation(rows[0], allocations.get(rows[0].id) ?? []);
}

export function toReservation(r: ReservationRow, allocations: Allocation[]): Reservation {
  return {
    id: r.id,
    reference: r.reference,
    status: r.status,
    lines: r.lines,
    shortfalls: r.shortfalls,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    endedAt: r.ended_at,
    commitRefusedAt: r.commit_refused_at,
    allocations,
  };
}

/** The outcome an existing reservation stands for, so a repeated reserve answers exactly as the first one did. */
export function outcomeOf(r: Reservation): Decided {
  if (r.status === 'rejected') return { status: 'rejected', reservationId: r.id, reference: r.reference, shortfalls: r.shortfalls ?? [] };
  return { status: 'confirmed', reservationId: r.id, reference: r.reference, expiresAt: r.expiresAt as Date, allocations: r.allocations };
}
