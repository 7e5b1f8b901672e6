/**
 * Payloads of the billing context's events (topic `tessera.billing.events`).
 * Subject: the payment id; partition key: the order id (one payment per order, so per-order order is kept).
 */

export const BillingEventTypes = {
  PaymentCreated: 'billing.payment.created',
  PaymentConfirmed: 'billing.payment.confirmed',
  PaymentFailed: 'billing.payment.failed',
  PaymentCancelled: 'billing.payment.cancelled',
  PaymentRefundRequired: 'billing.payment.refund_required',
} as const;

export const PAYMENT_METHODS = ['bank_transfer', 'cod', 'card'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];

export const PAYMENT_STATUSES = ['pending', 'confirmed', 'failed', 'cancelled'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** Why billing flagged or cancelled a payment: the order it belongs to ended. */
export type PaymentOrderEndReason = 'order_cancelled' | 'order_expired';

/**
 * Why confirmed money must be paid back: the order ended, or the payment had failed and a later attempt replaced
 * it (`payment_superseded`: the money of a failed attempt arrived after all).
 */
export type PaymentRefundReason = PaymentOrderEndReason | 'payment_superseded';

/**
 * A payment was opened for an order whose stock is reserved: attempt 1 on `orders.order.awaiting_payment`, a later
 * attempt when staff retry a failed one (`retryOf`). The newest attempt is the order's payment.
 */
export interface PaymentCreatedV1 {
  paymentId: string;
  orderId: string;
  /** 1 for the saga's payment; absent in events written before retries existed (read it as 1). */
  attempt?: number;
  /** The failed payment this one tries again; null (or absent) for attempt 1. */
  retryOf?: string | null;
  /** Integer minor units. */
  amount: number;
  currency: string;
  method: PaymentMethod;
  /** ISO 8601; the reservation's expiry for bank transfer and card, null for cash on delivery (due at delivery). */
  dueAt: string | null;
}

/**
 * Staff confirmed the money arrived. `refundRequired` is true when the order had already ended (cancelled or
 * expired), or when the payment had failed and was replaced by a later attempt: the money is kept on record and
 * must be refunded, and the order must not become `paid` by it.
 */
export interface PaymentConfirmedV1 {
  paymentId: string;
  orderId: string;
  amount: number;
  currency: string;
  refundRequired: boolean;
}

export interface PaymentFailedV1 {
  paymentId: string;
  orderId: string;
  reason: string | null;
}

/** A pending payment was cancelled because its order ended. */
export interface PaymentCancelledV1 {
  paymentId: string;
  orderId: string;
  reason: PaymentOrderEndReason;
}

/** Money was confirmed that must be paid back (see PaymentRefundReason). Emitted once per payment. */
export interface PaymentRefundRequiredV1 {
  paymentId: string;
  orderId: string;
  amount: number;
  currency: string;
  reason: PaymentRefundReason;
}
