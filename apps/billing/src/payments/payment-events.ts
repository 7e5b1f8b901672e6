import { Injectable } from '@nestjs/common';
import {
  BillingEventTypes,
  type PaymentCancelledV1,
  type PaymentConfirmedV1,
  type PaymentCreatedV1,
  type PaymentFailedV1,
  type PaymentRefundRequiredV1,
} from '@tessera/contracts';
import { OutboxWriter, type OutboxEventInput } from '@tessera/messaging';
import type { BillingTx } from '../billing-tx';
import type { PaymentEntity } from './payment.entity';

/** Writes billing's events into the outbox, in the caller's transaction. Subject: payment; key: order. */
@Injectable()
export class PaymentEvents {
  constructor(private readonly outbox: OutboxWriter) {}

  created(tx: BillingTx, p: PaymentEntity): Promise<void> {
    return this.append<PaymentCreatedV1>(tx, p, BillingEventTypes.PaymentCreated, {
      paymentId: p.id,
      orderId: p.orderId,
      attempt: p.attempt,
      retryOf: p.retryOf,
      amount: p.amount,
      currency: p.currency,
      method: p.method,
      dueAt: p.dueAt?.toISOString() ?? null,
    });
  }

  /** The confirmation, followed by the refund demand when the order had already ended. */
  async confirmed(tx: BillingTx, p: PaymentEntity): Promise<void> {
    await this.append<PaymentConfirmedV1>(tx, p, BillingEventTypes.PaymentConfirmed, {
      paymentId: p.id,
      orderId: p.orderId,
      amount: p.amount,
      currency: p.currency,
      refundRequired: p.refundRequired,
    });
    if (p.refundRequired) await this.refundRequired(tx, p);
  }

  failed(tx: BillingTx, p: PaymentEntity): Promise<void> {
    return this.append<PaymentFailedV1>(tx, p, BillingEventTypes.PaymentFailed, {
      paymentId: p.id,
      orderId: p.orderId,
      reason: p.failureReason,
    });
  }

  cancelled(tx: BillingTx, p: PaymentEntity): Promise<void> {
    if (!p.cancelReason) throw new Error(`payment ${p.id} is cancelled without a reason`);
    return this.append<PaymentCancelledV1>(tx, p, BillingEventTypes.PaymentCancelled, {
      paymentId: p.id,
      orderId: p.orderId,
      reason: p.cancelReason,
    });
  }

  refundRequired(tx: BillingTx, p: PaymentEntity): Promise<void> {
    if (!p.refundReason) throw new Error(`payment ${p.id} needs a refund without a reason`);
    return this.append<PaymentRefundRequiredV1>(tx, p, BillingEventTypes.PaymentRefundRequired, {
      paymentId: p.id,
      orderId: p.orderId,
      amount: p.amount,
      currency: p.currency,
      reason: p.refundReason,
    });
  }

  private async append<T>(tx: BillingTx, p: PaymentEntity, type: string, data: T): Promise<void> {
    const event: OutboxEventInput<T> = { type, subject: p.id, partitionKey: p.orderId, data };
    await this.outbox.append(tx, event);
  }
}
