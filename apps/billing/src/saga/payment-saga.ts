import { Injectable, Logger } from '@nestjs/common';
import { PreparedQuery, timeOrderedUuid } from '@tessera/persistence';
import type { BillingTx, CauseEvent } from '../billing-tx';
import { endReasonOf, isOrderEnded, OrderStatusBook } from '../order-status/order-status.book';
import type { KnownOrderStatus } from '../order-status/order-status.entity';
import { PaymentEvents } from '../payments/payment-events';
import { recordPaymentChange } from '../payments/payment-history';
import { PaymentEntity } from '../payments/payment.entity';
import type { AwaitingPaymentData } from './order-event.schemas';

/**
 * Opening a payment in one statement (it runs once per order, so its round trips count): the book records
 * awaiting_payment (a new row, or the existing one locked and left as it is: awaiting_payment never replaces a
 * status), and unless the status it holds says the order is over, the payment and its first history row are
 * inserted. The unique (tenant, order, attempt) key absorbs a second awaiting_payment for the same order (a re-emitted
 * event has a new id, so the inbox alone would not catch it). The history's foreign key sees the payment inserted
 * by the same statement (constraint checks run at its end).
 */
const OPEN_PAYMENT = new PreparedQuery<{ held: KnownOrderStatus; opened: boolean }>(
  `WITH book AS (
     INSERT INTO billing.order_statuses AS o (tenant_id, order_id, status, event_id, event_time)
     VALUES ($1, $2, 'awaiting_payment', $3, $4)
     ON CONFLICT (tenant_id, order_id) DO UPDATE SET status = o.status
     RETURNING status
   ), pay AS (
     INSERT INTO billing.payments (id, tenant_id, order_id, amount, currency, method, status, due_at, reservation_id, created_at, updated_at)
     SELECT $5::uuid, $1, $2, $6::bigint, $7::text, $8::text, 'pending', $9::timestamptz, $10::uuid, $11::timestamptz, $11 FROM book
     WHERE book.status NOT IN ('cancelled', 'expired', 'rejected')
     ON CONFLICT (tenant_id, order_id, attempt) DO NOTHING
     RETURNING id
   ), history AS (
     INSERT INTO billing.payment_status_changes (tenant_id, payment_id, from_status, to_status, refund_required, cause_event_id, cause_event_type, at)
     SELECT $1, id, NULL, 'pending', false, $3, $12::text, $11 FROM pay
   )
   SELECT (SELECT status FROM book) AS held, EXISTS (SELECT 1 FROM pay) AS opened`,
);

/**
 * Billing's steps of the order-to-cash saga. Each runs inside the Inbox transaction of the event that caused
 * it, so a redelivered event changes nothing; each first records the order's status in the book, which locks
 * the order and makes the steps of one order run one at a time whatever the delivery order.
 */
@Injectable()
export class PaymentSaga {
  private readonly log = new Logger(PaymentSaga.name);

  constructor(
    private readonly book: OrderStatusBook,
    private readonly events: PaymentEvents,
  ) {}

  /**
   * Opens the order's payment, once. When the order is already known to be over (its cancellation or expiry was
   * processed first), no payment is opened: there is nothing left to collect, and no pending payment should
   * invite a customer to pay for an order that no longer exists.
   */
  async openPayment(tx: BillingTx, data: AwaitingPaymentData, cause: CauseEvent): Promise<PaymentEntity | null> {
    const now = new Date();
    const payment: PaymentEntity = {
      id: timeOrderedUuid(),
      tenantId: tx.tenantId,
      orderId: data.orderId,
      attempt: 1,
      retryOf: null,
      amount: data.totalAmount,
      currency: data.currency,
      method: data.paymentMethod,
      status: 'pending',
      dueAt: dueDateOf(data),
      refundRequired: false,
      refundReason: null,
      failureReason: null,
      cancelReason: null,
      reservationId: data.reservationId ?? null,
      createdAt: now,
      updatedAt: now,
      confirmedAt: null,
    };
    const [{ held, opened }] = await OPEN_PAYMENT.rows(tx.manager, [
      tx.tenantId,
      payment.orderId,
      cause.id,
      cause.time,
      payment.id,
      payment.amount,
      payment.currency,
      payment.method,
      payment.dueAt,
      payment.reservationId,
      now,
      cause.type,
    ]);
    if (!opened) {
      if (held !== 'awaiting_payment' && held !== 'paid') this.log.log(`order ${data.orderId} is already ${held}: no payment opened`);
      return null;
    }
    await this.events.created(tx, payment);
    return payment;
  }

  /**
   * The order was cancelled or expired: a pending payment is cancelled; a payment already confirmed (the money
   * arrived before billing heard of the end) is flagged for refund. The book decides which end counts when both
   * arrive, and an order that was paid first stays paid, unless orders ends it as expired from paid (its stock could
   * not be committed): then the confirmed payment is flagged for refund.
   */
  async orderEnded(
    tx: BillingTx,
    orderId: string,
    status: 'cancelled' | 'expired',
    cause: CauseEvent,
    { afterPaid = false }: { afterPaid?: boolean } = {},
  ): Promise<void> {
    // Expired after paid: the money arrived after the reservation expired and inventory could not commit the stock.
    const held = await this.book.record(tx, orderId, status, cause, afterPaid ? ['awaiting_payment', 'paid'] : undefined);
    if (!isOrderEnded(held)) return;
    const reason = endReasonOf(held);
    // The newest attempt: the earlier ones all failed, so only it can be pending or confirmed.
    const payment = await tx.manager.findOne(PaymentEntity, {
      where: { tenantId: tx.tenantId, orderId },
      order: { attempt: 'DESC' },
      lock: { mode: 'pessimistic_write' },
    });
    if (!payment) return;
    const from = payment.status;
    if (payment.status === 'pending') {
      payment.status = 'cancelled';
      payment.cancelReason = reason;
    } else if (payment.status === 'confirmed' && !payment.refundRequired) {
      payment.refundRequired = true;
      payment.refundReason = reason;
    } else {
      return;
    }
    payment.updatedAt = new Date();
    await tx.manager.update(
      PaymentEntity,
      { id: payment.id },
      {
        status: payment.status,
        cancelReason: payment.cancelReason,
        refundRequired: payment.refundRequired,
        refundReason: payment.refundReason,
        updatedAt: payment.updatedAt,
      },
    );
    await recordPaymentChange(tx, payment, { from, reason, cause });
    if (payment.status === 'cancelled') await this.events.cancelled(tx, payment);
    else await this.events.refundRequired(tx, payment);
  }

  /** Paid and rejected only feed the book (a later awaiting_payment or end then knows where the order stands). */
  async orderSettled(tx: BillingTx, orderId: string, status: Extract<KnownOrderStatus, 'paid' | 'rejected'>, cause: CauseEvent): Promise<void> {
    await this.book.record(tx, orderId, status, cause);
  }
}

/**
 * When the money is due. Bank transfer and card: before the stock reservation expires, since the order expires
 * with it. Cash on delivery: collected by the carrier, so no due date until there is a delivery (null).
 */
export function dueDateOf(data: AwaitingPaymentData): Date | null {
  if (data.paymentMethod === 'cod') return null;
  return data.expiresAt ? new Date(data.expiresAt) : null;
}
