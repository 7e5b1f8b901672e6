import type { OrderStatus } from '@tessera/contracts';

export type { OrderStatus };

export const ORDER_STATUSES: readonly OrderStatus[] = ['pending', 'awaiting_payment', 'paid', 'rejected', 'cancelled', 'expired'];

/** The order state machine: every other move is refused (API) or ignored and noted (events). */
const NEXT: Record<OrderStatus, readonly OrderStatus[]> = {
  pending: ['awaiting_payment', 'rejected', 'cancelled'],
  awaiting_payment: ['paid', 'cancelled', 'expired'],
  paid: [],
  rejected: [],
  cancelled: [],
  expired: [],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return NEXT[from].includes(to);
}

/** Statuses staff can cancel from. */
export const CANCELLABLE: readonly OrderStatus[] = ['pending', 'awaiting_payment'];
