import type { EntityManager } from 'typeorm';
import { canTransition, type OrderStatus } from './order-status';
import { OrderStore, type Cause, type OrderRow } from './order-store';

type Patch = Parameters<typeof OrderStore.update>[2];

/**
 * Moves a locked order to `to` and appends the transition to its history, in the caller's transaction; `order` is
 * updated in place, so a caller holding it for later events of the same transaction sees the new state.
 * Returns false (and changes nothing) when the state machine does not allow the move from the current status.
 */
export async function transition(manager: EntityManager, order: OrderRow, to: OrderStatus, cause: Cause, patch: Patch = {}): Promise<boolean> {
  if (!canTransition(order.status, to)) return false;
  await OrderStore.update(manager, order.id, { ...patch, status: to }, { from: order.status, to, cause });
  for (const [key, value] of Object.entries(patch)) if (value !== undefined) Object.assign(order, { [key]: value });
  order.status = to;
  return true;
}

/** Records in the history an event that moved nothing (a failed payment, a late confirmation...). */
export async function note(manager: EntityManager, order: OrderRow, cause: Cause, text: string): Promise<void> {
  await OrderStore.appendHistory(manager, order.id, { from: order.status, to: null, cause, note: text });
}
