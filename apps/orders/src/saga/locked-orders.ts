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
 * The orders a consumer transaction holds locked. The first event locks every order that the transaction's events
 * name, one statement per tenant, and the events after it find theirs here: a batch of a hundred
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
    if (!locked.tenants.has(tx.tenantId.toLowerCase())) {
      await this.lockBatch(tx, locked, orderId);
    } else if (!locked.asked.has(keyOf(tx.tenantId, orderId))) {
      // An id the batch's first lock did not name (an event type orderReferenceOf does not know): lock it now rather
      // than take it for an unknown order, which would park the event for good.
      await this.lock(tx, locked, tx.tenantId, [orderId]);
    }
    // Not found by a lock above means no such order for this tenant: an event can only follow its order's commit.
    return locked.orders.get(keyOf(tx.tenantId, orderId)) ?? null;
  }

  /**
   * Locks every order the transaction's events name, all tenants at once, in (tenant, id) order. One consumer
   * transaction may hold several partitions' batches, of several tenants in any order, while another holds the same
   * orders' events from the other topic (an order's inventory and billing events): locking tenant by tenant as each
   * one's first event came up, two such transactions took the same orders in crossed orders and deadlocked.
   */
  private async lockBatch(tx: InboxTx, locked: Locked, orderId: string): Promise<void> {
    const current = tx.tenantId.toLowerCase();
    const named = new Map<string, Set<string>>([[current, new Set([orderId])]]);
    for (const e of tx.batch) {
      const reference = orderReferenceOf(e);
      if (!reference || !isUuid(e.tenantid)) continue;
      const tenant = e.tenantid.toLowerCase();
      const ids = named.get(tenant) ?? new Set<string>();
      ids.add(reference);
      named.set(tenant, ids);
    }
    let setting = current;
    for (const tenant of [...named.keys()].sort()) {
      if (locked.tenants.has(tenant)) continue;
      // RLS shows a statement only the tenant of the transaction's setting: each tenant's orders under its own.
      if (tenant !== setting) await tx.manager.query(`SELECT set_config('app.tenant_id', $1, true)`, [(setting = tenant)]);
      await this.lock(tx, locked, tenant, [...(named.get(tenant) ?? [])]);
      locked.tenants.add(tenant);
    }
    // Back to the event being handled, which the inbox set and its next statements assume.
    if (setting !== current) await tx.manager.query(`SELECT set_config('app.tenant_id', $1, true)`, [tx.tenantId]);
  }

  private async lock(tx: InboxTx, locked: Locked, tenantId: string, ids: string[]): Promise<void> {
    for (const id of ids) locked.asked.add(keyOf(tenantId, id));
    for (const order of await OrderStore.lockMany(tx.manager, ids)) locked.orders.set(keyOf(order.tenantId, order.id), order);
  }
}

// Ids as PostgreSQL writes them (lower case), whatever case an event spelt them in.
const keyOf = (tenantId: string, orderId: string): string => `${tenantId}/${orderId}`.toLowerCase();
