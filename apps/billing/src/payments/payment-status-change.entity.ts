import type { PaymentStatus } from '@tessera/contracts';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One step of a payment's history: a status transition, or the refund flag being raised (same status, flag on).
 * `actorId` is the staff user for HTTP commands; `causeEventId`/`causeEventType` the event for saga steps.
 */
@Entity({ schema: 'billing', name: 'payment_status_changes' })
export class PaymentStatusChangeEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ name: 'payment_id', type: 'uuid' })
  paymentId!: string;

  @Column({ name: 'from_status', type: 'text', nullable: true })
  fromStatus!: PaymentStatus | null;

  @Column({ name: 'to_status', type: 'text' })
  toStatus!: PaymentStatus;

  @Column({ name: 'refund_required', type: 'boolean' })
  refundRequired!: boolean;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ name: 'actor_id', type: 'text', nullable: true })
  actorId!: string | null;

  @Column({ name: 'cause_event_id', type: 'uuid', nullable: true })
  causeEventId!: string | null;

  @Column({ name: 'cause_event_type', type: 'text', nullable: true })
  causeEventType!: string | null;

  @Column({ type: 'timestamptz' })
  at!: Date;
}
