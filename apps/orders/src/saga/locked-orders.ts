import { BillingEventTypes, InventoryEventTypes, type EventEnvelope } from '@tessera/contracts';
import type { InboxTx } from '@tessera/messaging';
import { isUuid } from '@tessera/persistence';
import type { EntityManager } from 'typeorm';
import { OrderStore, type OrderRow } from '../orders/order-store';

/** Where each saga event names its order. */
const ORDER_FIELD: ReadonlyMap<string, 'reference' | 'orderId'> = new Map([
  [InventoryEventTypes.ReservationConfirmed, 'reference'],
  [InventoryEventTypes.ReservationRejected, 'reference'],
  [InventoryEventTypes.ReservationExpired, 'reference'],
  [InventoryEventTypes.ReservationCommitRefused, 'reference'],
  [BillingEventTypes.PaymentCreated, 'orderId'],
  [BillingEventTypes.PaymentConfirmed, 'orderId'],
  [BillingEventTypes.PaymentFailed, 'orderId'],
  [BillingEventTypes.PaymentCancelled, 'orderId'],
]);

/** The order an event is about, when it names one by a UUID (inventory also reserves for other requesters). */
export function orderReferenceOf(event: EventEnvelope): string | undefined {
  const field = ORDER_FIELD.get(event.type);
  const value = field ? (event.data as Record<string, unknown> | null)?.[field] : undefined;
  return isUuid(value) ? value : undefined;
}

interface Locked {
  /** Tenants whose orders named in the batch are locked (and, when found, below). */
  tenants: Set<string>;
  /** Every `tenant/order id` a lock statement asked for, found or not. */
  asked: Set<string>;
  /** By `tenant/order id`: a batch mixes tenants, and an event may name an id that is another tenant's order. */
  orders: Map<string, OrderRow>;
}

/**
 * The orders a consumer transaction holds locked. The first event of a tenant locks every order that this tenant's
 * events in the transaction name, in one statement, and the events after it find theirs here: a batch of a hundred
 * events waits for one answer instead of a hundred, which under load (each answer waiting its turn behind the HTTP
 * work of the same event loop) was what held the saga back. The rows stay locked until the transaction ends, so only
 * this transaction changes them, and the saga changes them only through `transition` and `OrderStore.update`,
 * whose changes it applies to these rows too.
 */
export class LockedOrders {
  private readonly byTransaction = new WeakMap<EntityManager, Locked>();

  async get(tx: InboxTx, orderId: string): Promise<OrderRow | null> {
    let locked = this.byTransaction.get(tx.manager);
    if (!locked) {
      locked = { tenants: new Set(), asked: new Set(), orders: new Map() };
      this.byTransaction.set(tx.manager, locked);
    }
    if (!locked.tenants.has(tx.tenantId)) {
      // The transaction's tenant setting is this event's, so RLS hides other tenants' orders from this statement.
      const named = new Set<string>([orderId]);
      for (const e of tx.batch) {
        const reference = e.tenantid === tx.tenantId ? orderReferenceOf(e) : undefined;
        if (reference) named.add(reference);
      }
      await this.lock(tx, locked, [...named]);
      locked.tenants.add(tx.tenantId);
    } else if (!locked.asked.has(keyOf(tx.tenantId, orderId))) {
      // An id the batch's first lock did not name (an event type orderReferenceOf does not know): lock it now rather
      // than take it for an unknown order, which would park the event for good.
      await this.lock(tx, locked, [orderId]);
    }
    // Not found by a lock above means no such order for this tenant: an event can only follow its order's commit.
    return locked.orders.get(keyOf(tx.tenantId, orderId)) ?? null;
  }

  private async lock(tx: InboxTx, locked: Locked, ids: string[]): Promise<void> {
    for (const id of ids) locked.asked.add(keyOf(tx.tenantId, id));
    for (const order of await OrderStore.lockMany(tx.manager, ids)) locked.orders.set(keyOf(order.tenantId, order.id), order);
  }
}

// Ids as PostgreSQL writes them (lower case), whatever case an event spelt them in.
const keyOf = (tenantId: string, orderId: string): string => `${tenantId}/${orderId}`.toLowerCase();
