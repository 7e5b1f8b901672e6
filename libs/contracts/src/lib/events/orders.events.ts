/** Payloads of the orders context's events (topic `tessera.orders.events`). Subject and partition key: the order id. */

import type { PaymentMethod } from './billing.events';

export const OrdersEventTypes = {
  OrderPlaced: 'orders.order.placed',
  OrderAwaitingPayment: 'orders.order.awaiting_payment',
  OrderPaid: 'orders.order.paid',
  OrderCancelled: 'orders.order.cancelled',
  OrderExpired: 'orders.order.expired',
  OrderRejected: 'orders.order.rejected',
} as const;

export type OrderStatus = 'pending' | 'awaiting_payment' | 'paid' | 'rejected' | 'cancelled' | 'expired';

export interface OrderPlacedItemV1 {
  sku: string;
  quantity: number;
  condition?: 'new' | 'used';
  /** Price snapshot at placement, minor units of the order's currency. */
  unitPriceAmount: number;
}

export interface OrderCustomerV1 {
  name: string;
  email: string;
}

/** Inventory reserves the items with the order id as the reservation reference. */
export interface OrderPlacedV1 {
  orderId: string;
  items: OrderPlacedItemV1[];
  currency: string;
  totalAmount: number;
  paymentMethod: PaymentMethod;
  customer: OrderCustomerV1;
}

/** Stock is reserved until `expiresAt`; billing opens the payment for `totalAmount`. */
export interface OrderAwaitingPaymentV1 {
  orderId: string;
  totalAmount: number;
  currency: string;
  paymentMethod: PaymentMethod;
  reservationId: string;
  expiresAt: string;
}

/** Inventory commits the reservation (reference = orderId). */
export interface OrderPaidV1 {
  orderId: string;
  paymentId: string;
}

/** Inventory releases the reservation, billing cancels the payment (when they exist). */
export interface OrderCancelledV1 {
  orderId: string;
  reason: string;
  /** The status the order was cancelled from. */
  previousStatus?: 'pending' | 'awaiting_payment';
  reservationId?: string | null;
  paymentId?: string | null;
}

/**
 * The reservation expired before payment; billing cancels the payment. Also sent for a paid order whose stock
 * inventory could not commit because the payment came after the expiry (`previousStatus: 'paid'`): billing then
 * flags the confirmed payment for refund.
 */
export interface OrderExpiredV1 {
  orderId: string;
  reservationId?: string | null;
  paymentId?: string | null;
  /** The status the order expired from (absent: awaiting_payment). */
  previousStatus?: 'awaiting_payment' | 'paid';
}

export interface OrderRejectionReasonV1 {
  sku: string;
  reason: string;
  /** Index of the line in the order (0-based), when the reason is about one line. */
  line?: number;
  requested?: number;
  available?: number;
}

export interface OrderRejectedV1 {
  orderId: string;
  reasons: OrderRejectionReasonV1[];
  reservationId?: string;
}
