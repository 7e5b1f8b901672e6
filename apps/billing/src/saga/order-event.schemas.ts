import { PAYMENT_METHODS } from '@tessera/contracts';
import { z } from 'zod';

// Orders events come from another service: billing checks what it relies on instead of trusting the shape.
const orderId = z.string().uuid();

/** `orders.order.awaiting_payment`: stock is reserved, the order waits for its money. */
export const awaitingPaymentSchema = z.object({
  orderId,
  totalAmount: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  currency: z.string().regex(/^[A-Z]{3}$/),
  paymentMethod: z.enum(PAYMENT_METHODS),
  reservationId: z.string().uuid().nullish(),
  expiresAt: z.string().datetime({ offset: true }).nullish(),
});
export type AwaitingPaymentData = z.infer<typeof awaitingPaymentSchema>;

/** `orders.order.cancelled`, `.expired`, `.paid`, `.rejected`: billing only needs the order id. */
export const orderRefSchema = z.object({ orderId });
export type OrderRefData = z.infer<typeof orderRefSchema>;

/** `orders.order.expired`: from awaiting_payment, or from paid when inventory could no longer commit the stock. */
export const orderExpiredSchema = orderRefSchema.extend({ previousStatus: z.enum(['awaiting_payment', 'paid']).optional() });
