import { Module } from '@nestjs/common';
import { OrderStatusBook } from './order-status/order-status.book';
import { PaymentEvents } from './payments/payment-events';

/** Stateless pieces both the HTTP side and the saga use: the order status book and the payment events. */
@Module({ providers: [OrderStatusBook, PaymentEvents], exports: [OrderStatusBook, PaymentEvents] })
export class BillingCoreModule {}
