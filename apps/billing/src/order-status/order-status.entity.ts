import { Column, Entity, PrimaryColumn } from 'typeorm';

export const ORDER_STATUSES = ['awaiting_payment', 'paid', 'cancelled', 'expired', 'rejected'] as const;
export type KnownOrderStatus = (typeof ORDER_STATUSES)[number];

/** Billing's read model of an order's status, built from orders events only (never from orders' tables). */
@Entity({ schema: 'billing', name: 'order_statuses' })
export class OrderStatusEntity {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @PrimaryColumn({ name: 'order_id', type: 'uuid' })
  orderId!: string;

  @Column({ type: 'text' })
  status!: KnownOrderStatus;

  @Column({ name: 'event_id', type: 'uuid' })
  eventId!: string;

  @Column({ name: 'event_time', type: 'timestamptz' })
  eventTime!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
