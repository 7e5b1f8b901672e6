import type { OrderStatus } from '@tessera/contracts';

export type { OrderStatus };

export const ORDER_STATUSES: readonly OrderStatus[] = ['pending', 'awaiting_payment', 'paid', 'rejected', 'cancelled', 'expired'];

/**
 * The order state machine: every other move is refused (API) or ignored and noted (events). `paid` → `expired` only
 * on inventory's `commit_refused`: the money came after the reservation had expired and the stock was gone by then
 * (a reservation expiry alone never ends a paid order: inventory first tries to commit the stock again).
 * `pending` → `expired`: the expiry of the order's reservation arrived before its confirmation (both are keyed by
 * the order, so only a log whose partitioning changed reorders them); without it the late confirmation would open a
 * payment for stock that is no longer held, and no second expiry would ever come.
 */
const NEXT: Record<OrderStatus, readonly OrderStatus[]> = {
  pending: ['awaiting_payment', 'rejected', 'cancelled', 'expired'],
  awaiting_payment: ['paid', 'cancelled', 'expired'],
  paid: ['expired'],
  rejected: [],
  cancelled: [],
  expired: [],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return NEXT[from].includes(to);
}

/** Statuses staff can cancel from. */
export const CANCELLABLE: readonly OrderStatus[] = ['pending', 'awaiting_payment'];
