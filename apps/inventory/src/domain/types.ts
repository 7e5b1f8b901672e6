import type { StockCondition, StockMovementType } from '@tessera/contracts';

export type { StockCondition, StockMovementType };
export type AdjustReason = 'count' | 'damage' | 'loss' | 'found';
export type ReservationStatus = 'active' | 'rejected' | 'committed' | 'released' | 'expired';

/** Who did it and why, written on every ledger row. */
export interface Actor {
  actor?: string | null;
  correlationId?: string | null;
}

export interface StockLevel {
  id: string;
  sku: string;
  locationId: string;
  condition: StockCondition;
  onHand: number;
  reserved: number;
  available: number;
  reorderPoint: number;
  reorderQuantity: number;
}

/** A stock row locked for update, with its location's allocation order. */
export interface LockedStock extends StockLevel {
  priority: number;
  locationCode: string;
  /** `inventory.stock.low` went out since the row was last restocked above its reorder point. */
  lowAlerted: boolean;
}

export interface ReserveLine {
  sku: string;
  quantity: number;
  condition?: StockCondition;
}

export interface NormalizedLine {
  sku: string;
  quantity: number;
  condition: StockCondition;
}

export interface Allocation {
  stockLevelId: string;
  sku: string;
  locationId: string;
  condition: StockCondition;
  quantity: number;
}

export interface Shortfall {
  sku: string;
  condition: StockCondition;
  requested: number;
  available: number;
}

export interface ReserveRequest {
  reference: string;
  lines: ReserveLine[];
  ttlSeconds?: number;
  /**
   * Paid in cash to the carrier on delivery: without an explicit `ttlSeconds`, held for the tenant's
   * cash-on-delivery time to live (default 14 days) rather than the checkout's.
   */
  cashOnDelivery?: boolean;
}

export type ReservationOutcome =
  | { status: 'confirmed'; reservationId: string; reference: string; expiresAt: Date; allocations: Allocation[] }
  | { status: 'rejected'; reservationId: string; reference: string; shortfalls: Shortfall[] }
  /** The SKU is hot: the request waits in the queue; the outcome arrives as an event (and in the request row). */
  | { status: 'queued'; requestId: string; reference: string }
  /** Released before it was reserved (its order ended first): nothing is held, and nothing ever will be for it. */
  | { status: 'withdrawn'; reference: string };

export interface Reservation {
  id: string;
  reference: string;
  status: ReservationStatus;
  lines: NormalizedLine[];
  shortfalls: Shortfall[] | null;
  expiresAt: Date | null;
  createdAt: Date;
  endedAt: Date | null;
  /** Set when its order was paid after it expired and the stock was gone by then (see commitExpired). */
  commitRefusedAt: Date | null;
  allocations: Allocation[];
}
