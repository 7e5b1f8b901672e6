import { InventoryEventTypes } from '@tessera/contracts';
import type { OutboxWriter } from '@tessera/messaging';
import type { TenantTransactions, TenantTx } from '@tessera/persistence';
import { isUuid } from '@tessera/persistence';
import type { EntityManager } from 'typeorm';
import { resolveStockCondition } from './catalog-read-model';
import { invalid, MAX_ON_HAND, onHandChanged, pgCode, unknownLocation } from './errors';
import { PendingEvents } from './events';
import { assertCondition, assertQuantity, assertSku, MAX_QUANTITY } from './lines';
import { StockBook, stockLowOf } from './stock-book';
import { LEVEL_COLUMNS, toLevel, type LevelRow } from './stock-rows';
import type { Actor, AdjustReason, StockCondition, StockLevel } from './types';

/**
 * `expectedOnHand`, optional on every type: what the caller last saw on hand at `locationId` (the source of a
 * transfer). When on hand is no longer that, the movement is refused (409 on_hand_changed) rather than applied to
 * stock the caller has not seen: a picker who counted 7 where the screen said 10 sends `adjust -3 count` with
 * `expectedOnHand: 10`, and a reservation committed meanwhile makes it re-read instead of losing a unit.
 */
interface MovementBase {
  sku: string;
  locationId: string;
  quantity: number;
  condition?: StockCondition;
  expectedOnHand?: number;
}

export type Movement =
  | (MovementBase & { type: 'receive' })
  /** `quantity` is the signed change (non-zero); the reason says why. */
  | (MovementBase & { type: 'adjust'; reason: AdjustReason })
  | (MovementBase & { type: 'transfer'; toLocationId: string });

export interface MovementResult {
  levels: StockLevel[];
}

const REASONS: readonly AdjustReason[] = ['count', 'damage', 'loss', 'found'];

/** A location id as PostgreSQL writes it (lower case), so that ids compare equal in code as they do in SQL. */
function assertLocationId(id: unknown): string {
  if (!isUuid(id)) throw unknownLocation(String(id));
  return id.toLowerCase();
}

/**
 * Staff movements. Each locks its stock rows in the canonical order, writes ledger rows and events, and refuses
 * (InventoryError conflict → 409, nothing written) to leave on hand below zero or below reserved. A SKU the
 * tenant's catalog does not have is refused first (422 unknown_sku), and a movement without a condition is in the one
 * the SKU's variant sells (see `resolveStockCondition`).
 */
export class MovementService {
  constructor(
    private readonly tenants: TenantTransactions,
    private readonly outbox: OutboxWriter,
  ) {}

  async apply(tenantId: string, movement: Movement, actor?: Actor): Promise<MovementResult> {
    const planned = planMovement(movement, actor);
    return this.tenants.run(tenantId, (tx) => this.write(tx, planned));
  }

  /** `apply` inside the caller's transaction (one that also stores an Idempotency-Key response, say). */
  async applyIn(tx: TenantTx, movement: Movement, actor?: Actor): Promise<MovementResult> {
    return this.write(tx, planMovement(movement, actor));
  }

  private async write(tx: TenantTx, { type, sku, condition: requested, plan, actor, expectedOnHand }: PlannedMovement): Promise<MovementResult> {
    // A receive creates stock, so its SKU must be in the catalog; adjust and transfer also work on a row that exists.
    const condition = await resolveStockCondition(tx, sku, requested, type === 'receive' ? null : plan[0].locationId);
    const ids = await ensureRows(tx.manager, sku, condition, plan.map((p) => p.locationId));
    const book = await StockBook.lockByIds(tx.manager, ids);
    // Checked under the row lock, so nothing can change on hand between this check and the write.
    const source = book.get(ids[0]);
    if (expectedOnHand !== undefined && source && source.onHand !== expectedOnHand) {
      throw onHandChanged({ sku, locationId: plan[0].locationId, condition, expectedOnHand, onHand: source.onHand });
    }
    plan.forEach((p, i) => book.apply(ids[i], { movement: p.movement, deltaOnHand: p.deltaOnHand, deltaReserved: 0, reason: p.reason, actor }));
    const events = new PendingEvents();
    await book.flush(tx.manager, events);
    await events.flush(this.outbox, tx);
    return { levels: ids.map((id) => stripLock(book.get(id))) };
  }

  /** Sets the reorder policy of one stock level (created empty if new). */
  async setReorderPolicy(
    tenantId: string,
    input: { sku: string; locationId: string; condition?: StockCondition; reorderPoint: number; reorderQuantity: number },
  ): Promise<StockLevel> {
    const sku = assertSku(input.sku);
    const requested = input.condition == null ? undefined : assertCondition(input.condition);
    const locationId = assertLocationId(input.locationId);
    for (const [k, v] of [['reorderPoint', input.reorderPoint], ['reorderQuantity', input.reorderQuantity]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > MAX_QUANTITY) throw invalid(`invalid_${k}`, `${k} must be an integer from 0 to ${MAX_QUANTITY}`);
    }
    return this.tenants.run(tenantId, async (tx) => {
      const condition = await resolveStockCondition(tx, sku, requested, locationId);
      const [id] = await ensureRows(tx.manager, sku, condition, [locationId]);
      const { reorderPoint, reorderQuantity } = input;
      const hasPolicy = reorderPoint > 0 || reorderQuantity > 0;
      const [row]: (LevelRow & { alert: boolean })[] = await tx.manager.query(
        // Wrapped in a SELECT: TypeORM answers a bare UPDATE ... RETURNING with [rows, count], not rows. The old row
        // (FOR UPDATE) says whether this policy is the one that finds the stock low: a row already at or below the
        // new point is alerted now, unless an alert went out already; one above it is re-armed.
        `WITH old AS (
           SELECT id AS old_id, low_alerted AS was_alerted FROM stock_levels WHERE id = $1 FOR UPDATE
         ), u AS (
           UPDATE stock_levels SET reorder_point = $2, reorder_quantity = $3, updated_at = now(),
             low_alerted = CASE WHEN available > $2 THEN false WHEN $4 THEN true ELSE low_alerted END
           FROM old WHERE id = old_id
           RETURNING ${LEVEL_COLUMNS}, $4 AND available <= $2 AND NOT was_alerted AS alert
         ) SELECT * FROM u`,
        [id, reorderPoint, reorderQuantity, hasPolicy],
      );
      const level = toLevel(row);
      if (row.alert) {
        const events = new PendingEvents();
        events.add(InventoryEventTypes.StockLow, level.id, stockLowOf(level), level.sku);
        await events.flush(this.outbox, tx);
      }
      return level;
    });
  }
}

interface PlannedMovement {
  type: Movement['type'];
  sku: string;
  /** As asked; none means the condition the SKU's variant sells. */
  condition: StockCondition | undefined;
  plan: { locationId: string; deltaOnHand: number; movement: 'receive' | 'adjust' | 'transfer_out' | 'transfer_in'; reason?: AdjustReason }[];
  actor: Actor;
  expectedOnHand?: number;
}

/** The movement checked and turned into the changes of its stock rows; an invalid one throws before any write. */
function planMovement(movement: Movement, actor?: Actor): PlannedMovement {
  const sku = assertSku(movement.sku);
  const condition = movement.condition == null ? undefined : assertCondition(movement.condition);
  const from = assertLocationId(movement.locationId);
  const expectedOnHand = movement.expectedOnHand;
  if (expectedOnHand !== undefined && (typeof expectedOnHand !== 'number' || !Number.isInteger(expectedOnHand) || expectedOnHand < 0 || expectedOnHand > MAX_ON_HAND)) {
    throw invalid('invalid_expected_on_hand', `expectedOnHand is an integer from 0 to ${MAX_ON_HAND}`);
  }
  let plan: PlannedMovement['plan'];
  switch (movement.type) {
    case 'receive':
      plan = [{ locationId: from, deltaOnHand: assertQuantity(movement.quantity), movement: 'receive' }];
      break;
    case 'adjust': {
      const q = movement.quantity;
      if (typeof q !== 'number' || !Number.isInteger(q) || q === 0 || Math.abs(q) > MAX_QUANTITY) {
        throw invalid('invalid_quantity', `an adjustment is a non-zero integer from -${MAX_QUANTITY} to ${MAX_QUANTITY}`);
      }
      if (!REASONS.includes(movement.reason)) throw invalid('invalid_reason', `reason must be one of ${REASONS.join(', ')}`);
      // The ledger's reason must tell the truth: damage and loss take stock away, found brings it; a count either.
      if ((movement.reason === 'damage' || movement.reason === 'loss') && q > 0) {
        throw invalid('reason_direction', `a ${movement.reason} adjustment lowers on hand: its quantity is negative`);
      }
      if (movement.reason === 'found' && q < 0) throw invalid('reason_direction', 'a found adjustment raises on hand: its quantity is positive');
      plan = [{ locationId: from, deltaOnHand: q, movement: 'adjust', reason: movement.reason }];
      break;
    }
    case 'transfer': {
      const to = assertLocationId(movement.toLocationId);
      if (to === from) throw invalid('same_location', 'a transfer needs two different locations');
      const q = assertQuantity(movement.quantity);
      plan = [
        { locationId: from, deltaOnHand: -q, movement: 'transfer_out' },
        { locationId: to, deltaOnHand: q, movement: 'transfer_in' },
      ];
      break;
    }
    default:
      throw invalid('invalid_type', 'type must be receive, adjust or transfer');
  }
  return {
    type: movement.type,
    sku,
    condition,
    plan,
    actor: { actor: actor?.actor ?? null, correlationId: actor?.correlationId ?? null },
    expectedOnHand,
  };
}

/** Creates missing stock rows (zero) and returns their ids in the order of `locationIds`. */
async function ensureRows(manager: EntityManager, sku: string, condition: StockCondition, locationIds: string[]): Promise<string[]> {
  // A transfer names two locations, and the foreign key's error cannot say which is missing (PostgreSQL leaves the key
  // out of it under RLS): look first, so the refusal names the right one.
  if (locationIds.length > 1) {
    const found: { id: string }[] = await manager.query('SELECT id FROM locations WHERE id = ANY($1::uuid[])', [locationIds]);
    const missing = locationIds.find((id) => !found.some((r) => r.id === id));
    if (missing) throw unknownLocation(missing);
  }
  try {
    await manager.query(
      // In id order: two transfers creating the same two rows in opposite order deadlocked on the unique key.
      `INSERT INTO stock_levels (sku, location_id, condition) SELECT $1, l, $2 FROM unnest($3::uuid[]) l ORDER BY l
       ON CONFLICT (tenant_id, sku, location_id, condition) DO NOTHING`,
      [sku, condition, locationIds],
    );
  } catch (e) {
    // The composite (tenant_id, location_id) key: another tenant's location is as unknown as a missing one.
    if (pgCode(e) === '23503') throw unknownLocation(locationIds.join(','));
    throw e;
  }
  const rows: { id: string; location_id: string }[] = await manager.query(
    `SELECT id, location_id FROM stock_levels WHERE sku = $1 AND condition = $2 AND location_id = ANY($3::uuid[])`,
    [sku, condition, locationIds],
  );
  return locationIds.map((l) => (rows.find((r) => r.location_id === l) as { id: string }).id);
}

const stripLock = (r: StockLevel | undefined): StockLevel => {
  const { id, sku, locationId, condition, onHand, reserved, available, reorderPoint, reorderQuantity } = r as StockLevel;
  return { id, sku, locationId, condition, onHand, reserved, available, reorderPoint, reorderQuantity };
};
