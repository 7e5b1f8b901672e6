// The row shapes of inventory's stock tables, as its statements select and write them.
import type { AdjustReason, StockCondition, StockLevel, StockMovementType } from './types';

/** A `stock_levels` row, as `LEVEL_COLUMNS` selects it. */
export interface LevelRow {
  id: string;
  sku: string;
  location_id: string;
  condition: StockCondition;
  on_hand: number;
  reserved: number;
  available: number;
  reorder_point: number;
  reorder_quantity: number;
}

export const LEVEL_COLUMNS = 'id, sku, location_id, condition, on_hand, reserved, available, reorder_point, reorder_quantity';

export const toLevel = (r: LevelRow): StockLevel => ({
  id: r.id,
  sku: r.sku,
  locationId: r.location_id,
  condition: r.condition,
  onHand: r.on_hand,
  reserved: r.reserved,
  available: r.available,
  reorderPoint: r.reorder_point,
  reorderQuantity: r.reorder_quantity,
});

/** The columns a movement writes into `stock_ledger`. */
export interface LedgerRowValues {
  stock_level_id: string;
  sku: string;
  location_id: string;
  condition: StockCondition;
  movement: StockMovementType;
  reason: AdjustReason | null;
  delta_on_hand: number;
  delta_reserved: number;
  on_hand_before: number;
  on_hand_after: number;
  reserved_before: number;
  reserved_after: number;
  actor: string | null;
  correlation_id: string | null;
  reference: string | null;
}

/** A `stock_ledger` row read back. */
export interface LedgerRow extends LedgerRowValues {
  seq: string;
  id: string;
  at: Date;
}
