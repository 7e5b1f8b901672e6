import { Injectable } from '@nestjs/common';
import type { PaymentOrderEndReason } from '@tessera/contracts';
import type { BillingTx, CauseEvent } from '../billing-tx';
import { OrderStatusEntity, type KnownOrderStatus } from './order-status.entity';

/** The reason recorded on a payment cancelled or flagged because its order ended. */
export function endReasonOf(status: 'cancelled' | 'expired'): PaymentOrderEndReason {
  return status === 'cancelled' ? 'order_cancelled' : 'order_expired';
}

export function isOrderEnded(status: KnownOrderStatus | null): status is 'cancelled' | 'expired' {
  return status === 'cancelled' || status === 'expired';
}

/**
 * Billing's local view of order statuses. Events may arrive out of order across redeliveries and partitions, so
 * the book only moves forward: `awaiting_payment` can be replaced by a final status (paid, cancelled, expired,
 * rejected), and the first final status wins for good. Recording locks the order's row until the transaction
 * ends, which serializes every saga step of one order (and staff commands read it after locking the payment).
 */
@Injectable()
export class OrderStatusBook {
  /**
   * Records what `cause` says about the order and returns the status the book holds afterwards. `replaces`: the
   * statuses it may replace; only `paid` → `expired` goes beyond awaiting_payment (a paid order whose stock inventory
   * could not commit any more, which orders announces as expired from paid).
   */
  async record(
    tx: BillingTx,
    orderId: string,
    status: KnownOrderStatus,
    cause: CauseEvent,
    replaces: readonly KnownOrderStatus[] = ['awaiting_payment'],
  ): Promise<KnownOrderStatus> {
    await tx.manager.query(
      `INSERT INTO billing.order_statuses AS o (tenant_id, order_id, status, event_id, event_time)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, order_id) DO UPDATE
         SET status = EXCLUDED.status, event_id = EXCLUDED.event_id, event_time = EXCLUDED.event_time, updated_at = now()
         WHERE o.status = ANY($6::text[]) AND EXCLUDED.status <> 'awaiting_payment'`,
      [tx.tenantId, orderId, status, cause.id, cause.time, replaces],
    );
    const held = await this.statusOf(tx, orderId);
    if (!held) throw new Error(`order status of ${orderId} vanished inside its own transaction`);
    return held;
  }

  async statusOf(tx: BillingTx, orderId: string): Promise<KnownOrderStatus | null> {
    const row = await tx.manager.findOne(OrderStatusEntity, { where: { tenantId: tx.tenantId, orderId }, select: { status: true } });
    return row?.status ?? null;
  }
}
