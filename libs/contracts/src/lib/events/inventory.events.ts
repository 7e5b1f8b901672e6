/** Payloads of the inventory context's events (topic `tessera.inventory.events`). */

export const InventoryEventTypes = {
  StockChanged: 'inventory.stock.changed',
  StockLow: 'inventory.stock.low',
  ReservationConfirmed: 'inventory.reservation.confirmed',
  ReservationRejected: 'inventory.reservation.rejected',
  ReservationReleased: 'inventory.reservation.released',
  ReservationExpired: 'inventory.reservation.expired',
  ReservationCommitted: 'inventory.reservation.committed',
  ReservationCommitRefused: 'inventory.reservation.commit_refused',
} as const;

export type StockCondition = 'new' | 'used';

/** What moved the stock: a staff movement or a reservation step. */
export type StockMovementType =
  | 'receive'
  | 'adjust'
  | 'transfer_out'
  | 'transfer_in'
  | 'reserve'
  | 'release'
  | 'expire'
  | 'commit';

/** Subject: the stock level id; partition key: the SKU. */
export interface StockChangedV1 {
  stockLevelId: string;
  sku: string;
  locationId: string;
  condition: StockCondition;
  movement: StockMovementType;
  onHand: number;
  reserved: number;
  available: number;
  deltaOnHand: number;
  deltaReserved: number;
  correlationId: string | null;
}

/** Emitted when available falls to or below the reorder point (once per crossing, not on every change below it). */
export interface StockLowV1 {
  stockLevelId: string;
  sku: string;
  locationId: string;
  condition: StockCondition;
  available: number;
  reorderPoint: number;
  reorderQuantity: number;
}

export interface ReservationLineV1 {
  sku: string;
  quantity: number;
  condition: StockCondition;
}

export interface ReservationAllocationV1 {
  sku: string;
  condition: StockCondition;
  locationId: string;
  quantity: number;
}

/** Subject: the reservation id; partition key: the reference (e.g. the order id). */
export interface ReservationConfirmedV1 {
  reservationId: string;
  reference: string;
  lines: ReservationLineV1[];
  allocations: ReservationAllocationV1[];
  expiresAt: string;
}

export interface ReservationShortfallV1 {
  sku: string;
  condition: StockCondition;
  requested: number;
  available: number;
}

export interface ReservationRejectedV1 {
  reservationId: string;
  reference: string;
  lines: ReservationLineV1[];
  /** The lines that could not be covered; nothing was reserved for any line. */
  shortfalls: ReservationShortfallV1[];
}

/** Released (by request), expired (by the sweeper) and committed (stock shipped out) share one shape. */
export interface ReservationEndedV1 {
  reservationId: string;
  reference: string;
  allocations: ReservationAllocationV1[];
}

export type ReservationReleasedV1 = ReservationEndedV1;
export type ReservationExpiredV1 = ReservationEndedV1;
export type ReservationCommittedV1 = ReservationEndedV1;

/**
 * The order was paid after its reservation had expired, and the stock it needs is no longer available, so nothing
 * was committed (when it still was, the reservation is taken again and committed: `committed`). Final: a later
 * redelivery of the payment never commits. The paid order cannot be fulfilled and its money is due back.
 */
export interface ReservationCommitRefusedV1 {
  reservationId: string;
  reference: string;
  reason: 'expired';
  /** The lines that could not be covered at the time of the payment. */
  shortfalls: ReservationShortfallV1[];
}
