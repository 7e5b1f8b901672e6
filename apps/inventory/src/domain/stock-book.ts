import { InventoryEventTypes, type StockChangedV1, type StockLowV1 } from '@tessera/contracts';
import type { EntityManager } from 'typeorm';
import { insufficientStock, MAX_ON_HAND, stockLimitExceeded } from './errors';
import type { PendingEvents } from './events';
import { toLevel, type LedgerRowValues, type LevelRow } from './stock-rows';
import type { Actor, AdjustReason, LockedStock, StockCondition, StockLevel, StockMovementType } from './types';
import { preparedRows } from '@tessera/persistence';
import type { QueryResultRow } from 'pg';

/** A locked level with what allocation needs of its location. */
interface LockedRow extends LevelRow {
  priority: number;
  code: string;
  low_alerted: boolean;
}

/** The bind parameters of one statement built in parts: each part adds its values and gets their placeholders. */
export class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Writes another module joins to a flush: CTEs (`name AS (...)`, placeholders from `params`) and a final SELECT. */
export interface JoinedWrites {
  ctes: string[];
  params: SqlParams;
  select: string;
}

export interface Change {
  movement: StockMovementType;
  deltaOnHand: number;
  deltaReserved: number;
  reason?: AdjustReason | null;
  reference?: string | null;
  actor?: Actor;
}

/*
 * Every writer of stock locks its rows through this one query, always in the canonical order (sku, condition,
 * location_id). Two transactions therefore never hold one row each while waiting for the other's: no deadlock,
 * however many SKUs and locations an order spans. ORDER BY runs before FOR UPDATE, so rows are locked in that order.
 */
const LOCK_SQL = (where: string) => `
  SELECT s.id, s.sku, s.location_id, s.condition, s.on_hand, s.reserved, s.available,
         s.reorder_point, s.reorder_quantity, s.low_alerted, l.priority, l.code
  FROM stock_levels s JOIN locations l ON l.id = s.location_id AND l.tenant_id = s.tenant_id
  WHERE ${where}
  ORDER BY s.sku, s.condition, s.location_id
  FOR UPDATE OF s`;

const toLocked = (r: LockedRow): LockedStock => ({ ...toLevel(r), priority: r.priority, locationCode: r.code, lowAlerted: r.low_alerted });

/** The `inventory.stock.low` payload of a stock level. */
export function stockLowOf(level: StockLevel): StockLowV1 {
  const { id, sku, locationId, condition, available, reorderPoint, reorderQuantity } = level;
  return { stockLevelId: id, sku, locationId, condition, available, reorderPoint, reorderQuantity };
}

/**
 * Whether a row whose available went from `before` to `row`'s needs `inventory.stock.low`, updating its
 * `lowAlerted`: once when available is at or below the reorder point of a policy (a point or a quantity set), and
 * not again until a restock (on hand up) brings it back above the point. A release or an expiry that lifts it
 * above does not re-arm it: the same stock coming and going would otherwise ask for a reorder each time.
 */
export function stockLowDue(before: { onHand: number }, row: LockedStock): boolean {
  const hasPolicy = row.reorderPoint > 0 || row.reorderQuantity > 0;
  if (row.available > row.reorderPoint) {
    if (row.onHand > before.onHand) row.lowAlerted = false;
    return false;
  }
  if (!hasPolicy || row.lowAlerted) return false;
  row.lowAlerted = true;
  return true;
}

/**
 * The stock rows one transaction holds locked, changed in memory and written back once: one UPDATE for all rows,
 * one INSERT for all ledger rows, one `inventory.stock.changed` per row and `inventory.stock.low` on a crossing.
 * A change that would break on_hand >= 0, reserved >= 0 or reserved <= on_hand throws before anything is written.
 */
export class StockBook {
  private readonly rows = new Map<string, LockedStock>();
  private readonly initial = new Map<string, LockedStock>();
  private readonly ledger: LedgerRowValues[] = [];
  private readonly lastMovement = new Map<string, StockMovementType>();
  private readonly correlation = new Map<string, string | null>();

  private constructor(rows: LockedStock[]) {
    for (const r of rows) {
      this.rows.set(r.id, { ...r });
      this.initial.set(r.id, { ...r });
    }
  }

  /** Locks every row of the given SKU/condition pairs, at every location. */
  static async lockBySku(manager: EntityManager, keys: { sku: string; condition: StockCondition }[]): Promise<StockBook> {
    if (keys.length === 0) return new StockBook([]);
    const rows = await preparedRows<LockedRow>(
      manager,
      LOCK_SQL(`(s.sku, s.condition) IN (SELECT * FROM unnest($1::text[], $2::text[]))`),
      [keys.map((k) => k.sku), keys.map((k) => k.condition)],
    );
    return new StockBook(rows.map(toLocked));
  }

  static async lockByIds(manager: EntityManager, ids: string[]): Promise<StockBook> {
    if (ids.length === 0) return new StockBook([]);
    const rows = await preparedRows<LockedRow>(manager, LOCK_SQL(`s.id = ANY($1::uuid[])`), [[...new Set(ids)]]);
    return new StockBook(rows.map(toLocked));
  }

  get(id: string): LockedStock | undefined {
    return this.rows.get(id);
  }

  /** Rows of one SKU/condition in allocation order: location priority (lower first), then code (code units). */
  candidates(sku: string, condition: StockCondition): LockedStock[] {
    return [...this.rows.values()]
      .filter((r) => r.sku === sku && r.condition === condition)
      .sort((a, b) => a.priority - b.priority || byCodeUnits(a.locationCode, b.locationCode) || byCodeUnits(a.id, b.id));
  }

  apply(id: string, change: Change): LockedStock {
    const row = this.rows.get(id);
    if (!row) throw new Error(`stock row ${id} is not locked by this transaction`);
    const onHand = row.onHand + change.deltaOnHand;
    const reserved = row.reserved + change.deltaReserved;
    const details = {
      sku: row.sku,
      locationId: row.locationId,
      condition: row.condition,
      onHand: row.onHand,
      reserved: row.reserved,
      deltaOnHand: change.deltaOnHand,
      deltaReserved: change.deltaReserved,
    };
    if (onHand < 0 || reserved < 0 || reserved > onHand) throw insufficientStock(details);
    if (onHand > MAX_ON_HAND) throw stockLimitExceeded(details);
    this.ledger.push({
      stock_level_id: row.id,
      sku: row.sku,
      location_id: row.locationId,
      condition: row.condition,
      movement: change.movement,
      reason: change.reason ?? null,
      delta_on_hand: change.deltaOnHand,
      delta_reserved: change.deltaReserved,
      on_hand_before: row.onHand,
      on_hand_after: onHand,
      reserved_before: row.reserved,
      reserved_after: reserved,
      actor: change.actor?.actor ?? null,
      correlation_id: change.actor?.correlationId ?? change.reference ?? null,
      reference: change.reference ?? null,
    });
    row.onHand = onHand;
    row.reserved = reserved;
    row.available = onHand - reserved;
    this.lastMovement.set(id, change.movement);
    this.correlation.set(id, change.actor?.correlationId ?? change.reference ?? null);
    return row;
  }

  /**
   * Writes the changed rows, their ledger rows and their events, in one statement. `with` lets the caller put its
   * own writes into the same statement (one round trip while the rows are locked): its CTEs use `$1..$n`, and the
   * statement returns the rows of its `select`.
   */
  async flush<T extends QueryResultRow = QueryResultRow>(manager: EntityManager, events: PendingEvents, withWrites?: JoinedWrites): Promise<T[]> {
    const ctes = withWrites ? [...withWrites.ctes] : [];
    const p = withWrites?.params ?? new SqlParams();
    const select = withWrites?.select ?? 'SELECT 1';
    const changed = [...this.lastMovement.keys()].map((id) => this.rows.get(id) as LockedStock);
    // Decided before the write, which stores each row's lowAlerted.
    const lowRows = new Set(changed.filter((row) => stockLowDue(this.initial.get(row.id) as LockedStock, row)).map((row) => row.id));
    if (this.ledger.length > 0) {
      const ids = p.add(changed.map((r) => r.id));
      const onHand = p.add(changed.map((r) => r.onHand));
      const reserved = p.add(changed.map((r) => r.reserved));
      const alerted = p.add(changed.map((r) => r.lowAlerted));
      const ledger = p.add(JSON.stringify(this.ledger));
      ctes.push(`stock_update AS (
         UPDATE stock_levels s SET on_hand = v.on_hand, reserved = v.reserved, low_alerted = v.low_alerted, updated_at = now()
         FROM unnest(${ids}::uuid[], ${onHand}::int[], ${reserved}::int[], ${alerted}::bool[]) AS v(id, on_hand, reserved, low_alerted)
         WHERE s.id = v.id
       ), ledger_insert AS (
         INSERT INTO ledger (stock_level_id, sku, location_id, condition, movement, reason, delta_on_hand, delta_reserved,
                             on_hand_before, on_hand_after, reserved_before, reserved_after, actor, correlation_id, reference)
         SELECT stock_level_id, sku, location_id, condition, movement, reason, delta_on_hand, delta_reserved,
                on_hand_before, on_hand_after, reserved_before, reserved_after, actor, correlation_id, reference
         FROM jsonb_to_recordset(${ledger}::jsonb) AS x(stock_level_id uuid, sku text, location_id uuid, condition text,
              movement text, reason text, delta_on_hand int, delta_reserved int, on_hand_before int, on_hand_after int,
              reserved_before int, reserved_after int, actor text, correlation_id text, reference text)
       )`);
    }
    if (ctes.length === 0) return [];
    const rows = await preparedRows<T>(manager, `WITH ${ctes.join(', ')} ${select}`, p.values);
    for (const row of changed) {
      const before = this.initial.get(row.id) as LockedStock;
      const changedEvent: StockChangedV1 = {
        stockLevelId: row.id,
        sku: row.sku,
        locationId: row.locationId,
        condition: row.condition,
        movement: this.lastMovement.get(row.id) as StockMovementType,
        onHand: row.onHand,
        reserved: row.reserved,
        available: row.available,
        deltaOnHand: row.onHand - before.onHand,
        deltaReserved: row.reserved - before.reserved,
        correlationId: this.correlation.get(row.id) ?? null,
      };
      events.add(InventoryEventTypes.StockChanged, row.id, changedEvent, row.sku);
      if (lowRows.has(row.id)) events.add(InventoryEventTypes.StockLow, row.id, stockLowOf(row), row.sku);
    }
    this.ledger.length = 0;
    this.lastMovement.clear();
    for (const row of changed) this.initial.set(row.id, { ...row });
    return rows;
  }
}

/** Code-unit order, as `COLLATE "C"` sorts in SQL: the location list shows locations in the order they are used. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
