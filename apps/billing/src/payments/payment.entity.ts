import type { PaymentMethod, PaymentOrderEndReason, PaymentRefundReason, PaymentStatus } from '@tessera/contracts';
import { Column, Entity, PrimaryColumn } from 'typeorm';

// bigint comes back from pg as a string; amounts are minor units well within Number.MAX_SAFE_INTEGER.
const bigintAsNumber = { to: (v: number) => v, from: (v: string | null) => (v === null ? null : Number(v)) };

/** One attempt to collect an order's money: attempt 1 opened by the saga, each later one after the one before failed. */
@Entity({ schema: 'billing', name: 'payments' })
export class PaymentEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ name: 'order_id', type: 'uuid' })
  orderId!: string;

  @Column({ type: 'integer' })
  attempt!: number;

  /** The failed payment this one tries again (null for attempt 1). */
  @Column({ name: 'retry_of', type: 'uuid', nullable: true })
  retryOf!: string | null;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  amount!: number;

  @Column({ type: 'char', length: 3 })
  currency!: string;

  @Column({ type: 'text' })
  method!: PaymentMethod;

  @Column({ type: 'text' })
  status!: PaymentStatus;

  @Column({ name: 'due_at', type: 'timestamptz', nullable: true })
  dueAt!: Date | null;

  @Column({ name: 'refund_required', type: 'boolean' })
  refundRequired!: boolean;

  @Column({ name: 'refund_reason', type: 'text', nullable: true })
  refundReason!: PaymentRefundReason | null;

  @Column({ name: 'failure_reason', type: 'text', nullable: true })
  failureReason!: string | null;

  @Column({ name: 'cancel_reason', type: 'text', nullable: true })
  cancelReason!: PaymentOrderEndReason | null;

  @Column({ name: 'reservation_id', type: 'uuid', nullable: true })
  reservationId!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'confirmed_at', type: 'timestamptz', nullable: true })
  confirmedAt!: Date | null;
}
