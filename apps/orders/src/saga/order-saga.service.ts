import { Injectable, Logger } from '@nestjs/common';
import {
  OrdersEventTypes,
  type OrderAwaitingPaymentV1,
  type OrderExpiredV1,
  type OrderPaidV1,
  type OrderRejectedV1,
  type OrderRejectionReasonV1,
  type PaymentCancelledV1,
  type PaymentConfirmedV1,
  type PaymentCreatedV1,
  type PaymentFailedV1,
  type ReservationCommitRefusedV1,
  type ReservationConfirmedV1,
  type ReservationExpiredV1,
  type ReservationRejectedV1,
} from '@tessera/contracts';
import { OutboxWriter, type InboxTx } from '@tessera/messaging';
import { isUuid } from '@tessera/persistence';
import { OrderStore, type Cause, type OrderRow } from '../orders/order-store';
import { note, transition } from '../orders/order-transitions';
import { LockedOrders } from './locked-orders';

function causeOf(tx: InboxTx): Cause {
  return { type: 'event', eventId: tx.event.id, eventType: tx.event.type };
}

/**
 * The orders side of the order-to-cash saga. Each method runs inside `Inbox.run` (one transaction with the
 * processed-event record), takes the order's row lock, and either makes an allowed transition (plus its outbox
 * event) or, when the order's status does not allow it (a duplicate with a new id, a late or reordered event),
 * notes the event in the order's history and returns normally: an ignored event must never become a retry loop.
 */
@Injectable()
export class OrderSaga {
  private readonly log = new Logger(OrderSaga.name);

  private readonly locked = new LockedOrders();

  constructor(private readonly outbox: OutboxWriter) {}

  async onReservationConfirmed(tx: InboxTx<ReservationConfirmedV1>): Promise<void> {
    const e = tx.event.data;
    const order = await this.orderFor(tx, e.reference);
    if (!order) return;
    const moved = await transition(tx.manager, order, 'awaiting_payment', causeOf(tx), {
      reservationId: e.reservationId,
      reservationExpiresAt: Number.isNaN(Date.parse(e.expiresAt)) ? null : new Date(e.expiresAt),
    });
    if (!moved) {
      // E.g. staff cancelled the pending order first: inventory releases the stock on orders.order.cancelled.
      return this.ignore(tx, order, `reservation ${e.reservationId} confirmed while the order is ${order.status}; not moved`);
    }
    const data: OrderAwaitingPaymentV1 = {
      orderId: order.id,
      totalAmount: order.totalAmount,
      currency: order.currency,
      paymentMethod: order.paymentMethod,
      reservationId: e.reservationId,
      expiresAt: e.expiresAt,
    };
    await this.outbox.append(tx, { type: OrdersEventTypes.OrderAwaitingPayment, subject: order.id, data });
  }

  async onReservationRejected(tx: InboxTx<ReservationRejectedV1>): Promise<void> {
    const e = tx.event.data;
    const order = await this.orderFor(tx, e.reference);
    if (!order) return;
    const items = await OrderStore.items(tx.manager, order.id);
    const lineOf = new Map(items.map((i) => [i.sku, i.line]));
    const reasons: OrderRejectionReasonV1[] = (e.shortfalls ?? []).map((s) => ({
      sku: s.sku,
      reason: `insufficient stock: ${s.requested} requested, ${s.available} available`,
      ...(lineOf.has(s.sku) ? { line: lineOf.get(s.sku) } : {}),
      requested: s.requested,
      available: s.available,
    }));
    if (reasons.length === 0) reasons.push({ sku: '*', reason: 'stock could not be reserved' });
    const moved = await transition(tx.manager, order, 'rejected', causeOf(tx), { rejectionReasons: reasons });
    if (!moved) return this.ignore(tx, order, `reservation rejected while the order is ${order.status}; not moved`);
    const data: OrderRejectedV1 = { orderId: order.id, reasons, reservationId: e.reservationId };
    await this.outbox.append(tx, { type: OrdersEventTypes.OrderRejected, subject: order.id, data });
  }

  async onReservationExpired(tx: InboxTx<ReservationExpiredV1>): Promise<void> {
    const e = tx.event.data;
    const order = await this.orderFor(tx, e.reference);
    if (!order) return;
    if (order.reservationId && order.reservationId !== e.reservationId) {
      return this.ignore(tx, order, `reservation ${e.reservationId} expired but the order holds ${order.reservationId}; not moved`);
    }
    // Paid just before orders heard of the expiry: inventory, seeing orders.order.paid after its own expiry, commits
    // the stock again if it can, or answers commit_refused (below); the expiry alone does not end a paid order.
    const moved = order.status !== 'paid' && (await transition(tx.manager, order, 'expired', causeOf(tx)));
    if (!moved) return this.ignore(tx, order, `reservation ${e.reservationId} expired while the order is ${order.status}; not moved`);
    const data: OrderExpiredV1 = { orderId: order.id, reservationId: e.reservationId, paymentId: order.paymentId };
    await this.outbox.append(tx, { type: OrdersEventTypes.OrderExpired, subject: order.id, data });
  }

  /**
   * The order was paid after its reservation expired and the stock is gone: it cannot be fulfilled. It expires, and
   * orders.order.expired (with the payment) makes billing flag the confirmed payment for refund.
   */
  async onReservationCommitRefused(tx: InboxTx<ReservationCommitRefusedV1>): Promise<void> {
    const e = tx.event.data;
    const order = await this.orderFor(tx, e.reference);
    if (!order) return;
    if (order.reservationId && order.reservationId !== e.reservationId) {
      return this.ignore(tx, order, `commit of reservation ${e.reservationId} refused but the order holds ${order.reservationId}; not moved`);
    }
    const short = e.shortfalls.map((s) => `${s.sku}: ${s.requested} needed, ${s.available} available`).join('; ');
    const moved = order.status === 'paid' && (await transition(tx.manager, order, 'expired', causeOf(tx)));
    if (!moved) return this.ignore(tx, order, `commit of reservation ${e.reservationId} refused while the order is ${order.status}; not moved`);
    await note(tx.manager, order, causeOf(tx), `paid after the reservation expired and the stock is gone (${short}); refund due`);
    const data: OrderExpiredV1 = { orderId: order.id, reservationId: e.reservationId, paymentId: order.paymentId, previousStatus: 'paid' };
    await this.outbox.append(tx, { type: OrdersEventTypes.OrderExpired, subject: order.id, data });
  }

  async onPaymentCreated(tx: InboxTx<PaymentCreatedV1>): Promise<void> {
    const e = tx.event.data;
    const order = await this.orderFor(tx, e.orderId);
    if (!order) return;
    // A retry replaces the failed payment it names; any other second payment is not this order's.
    const retry = Boolean(e.retryOf) && order.paymentId === e.retryOf;
    if (order.paymentId && order.paymentId !== e.paymentId && !retry) {
      return this.ignore(tx, order, `payment ${e.paymentId} created but the order already has payment ${order.paymentId}`);
    }
    const text = retry
      ? `payment ${e.paymentId} opened (${e.method}, ${e.amount} ${e.currency}), attempt ${e.attempt ?? 2} after payment ${e.retryOf} failed`
      : `payment ${e.paymentId} opened (${e.method}, ${e.amount} ${e.currency})`;
    if (order.paymentId === e.paymentId) return note(tx.manager, order, causeOf(tx), text);
    // The payment id and its note in one statement.
    await OrderStore.update(tx.manager, order.id, { paymentId: e.paymentId }, { from: order.status, to: null, cause: causeOf(tx), note: text });
    order.paymentId = e.paymentId;
  }

  async onPaymentConfirmed(tx: InboxTx<PaymentConfirmedV1>): Promise<void> {
    const e = tx.event.data;
    const order = await this.orderFor(tx, e.orderId);
    if (!order) return;
    if (order.paymentId && order.paymentId !== e.paymentId) {
      return this.ignore(tx, order, `payment ${e.paymentId} confirmed but the order's payment is ${order.paymentId}; not moved`);
    }
    if (e.refundRequired) {
      // Billing already knew the order had ended: the money is on record to be paid back, the order stays as it is.
      return this.ignore(tx, order, `payment ${e.paymentId} confirmed with a refund due; not moved`);
    }
    const moved = await transition(tx.manager, order, 'paid', causeOf(tx), { paymentId: e.paymentId });
    if (!moved) {
      // The order ended first (cancelled or expired): it stays ended and billing flags the payment for refund.
      return this.ignore(tx, order, `payment ${e.paymentId} confirmed while the order is ${order.status}; not moved, refund due`);
    }
    const data: OrderPaidV1 = { orderId: order.id, paymentId: e.paymentId };
    await this.outbox.append(tx, { type: OrdersEventTypes.OrderPaid, subject: order.id, data });
  }

  async onPaymentFailed(tx: InboxTx<PaymentFailedV1>): Promise<void> {
    const e = tx.event.data;
    const order = await this.orderFor(tx, e.orderId);
    if (!order) return;
    // The order waits, its stock reserved: staff may retry the payment (billing opens the next attempt, which
    // becomes the order's payment), cancel the order, or let the reservation expire (both release the stock).
    await note(tx.manager, order, causeOf(tx), `payment ${e.paymentId} failed${e.reason ? `: ${e.reason}` : ''}`);
  }

  async onPaymentCancelled(tx: InboxTx<PaymentCancelledV1>): Promise<void> {
    const e = tx.event.data;
    const order = await this.orderFor(tx, e.orderId);
    if (!order) return;
    await note(tx.manager, order, causeOf(tx), `payment ${e.paymentId} cancelled (${e.reason})`);
  }

  /**
   * The order an event is about, locked (with the other orders its batch names, see LockedOrders). References that
   * are not UUIDs are not orders (inventory also reserves for other requesters) and are skipped.
   *
   * An unknown UUID is parked, not retried: the order row commits before `orders.order.placed` is published
   * (outbox), and inventory and billing only learn an order id from our events, so an event can never legitimately
   * precede its order. Throwing to retry would block the partition forever behind an event that cannot succeed
   * (another tenant's id, a foreign reference); parking keeps the event (not lost: its whole envelope stays in
   * `parked_events` to be inspected; there is no replay, since such an event can never apply) and lets the partition
   * move on.
   */
  private async orderFor(tx: InboxTx, reference: string | undefined): Promise<OrderRow | null> {
    if (!reference || !isUuid(reference)) {
      this.log.debug?.(`${tx.event.type} ${tx.event.id}: reference ${String(reference)} is not an order`);
      return null;
    }
    const order = await this.locked.get(tx, reference);
    if (order) return order;
    this.log.warn(`${tx.event.type} ${tx.event.id} is about unknown order ${reference}: parked`);
    await tx.manager.query(
      `INSERT INTO parked_events (event_id, order_ref, type, envelope) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING`,
      [tx.event.id, reference, tx.event.type, JSON.stringify(tx.event)],
    );
    return null;
  }

  private async ignore(tx: InboxTx, order: OrderRow, text: string): Promise<void> {
    this.log.log(`order ${order.id}: ${tx.event.type} ${tx.event.id} ignored: ${text}`);
    await note(tx.manager, order, causeOf(tx), text);
  }
}
