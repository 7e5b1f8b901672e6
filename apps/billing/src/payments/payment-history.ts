import type { PaymentStatus } from '@tessera/contracts';
import type { BillingTx, CauseEvent } from '../billing-tx';
import { PaymentStatusChangeEntity } from './payment-status-change.entity';
import type { PaymentEntity } from './payment.entity';

export interface PaymentChange {
  from: PaymentStatus | null;
  reason?: string | null;
  actorId?: string | null;
  cause?: CauseEvent | null;
}

/** Appends the payment's current state (status and refund flag) to its history, with who or what caused it. */
export async function recordPaymentChange(tx: BillingTx, payment: PaymentEntity, change: PaymentChange): Promise<void> {
  await tx.manager.insert(PaymentStatusChangeEntity, {
    tenantId: tx.tenantId,
    paymentId: payment.id,
    fromStatus: change.from,
    toStatus: payment.status,
    refundRequired: payment.refundRequired,
    reason: change.reason ?? null,
    actorId: change.actorId ?? null,
    causeEventId: change.cause?.id ?? null,
    causeEventType: change.cause?.type ?? null,
    at: payment.updatedAt,
  });
}
