import type { PaymentDto, PaymentHistoryEntryDto } from './dto/payment.dto';
import type { PaymentStatusChangeEntity } from './payment-status-change.entity';
import type { PaymentEntity } from './payment.entity';

export function toPaymentDto(p: PaymentEntity): PaymentDto {
  return {
    id: p.id,
    orderId: p.orderId,
    attempt: p.attempt,
    retryOf: p.retryOf,
    amount: p.amount,
    currency: p.currency,
    method: p.method,
    status: p.status,
    dueAt: p.dueAt?.toISOString() ?? null,
    refundRequired: p.refundRequired,
    refundReason: p.refundReason,
    failureReason: p.failureReason,
    cancelReason: p.cancelReason,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
    confirmedAt: p.confirmedAt?.toISOString() ?? null,
  };
}

export function toHistoryEntryDto(c: PaymentStatusChangeEntity): PaymentHistoryEntryDto {
  return {
    from: c.fromStatus,
    to: c.toStatus,
    refundRequired: c.refundRequired,
    reason: c.reason,
    actorId: c.actorId,
    causeEventType: c.causeEventType,
    causeEventId: c.causeEventId,
    at: c.at.toISOString(),
  };
}
