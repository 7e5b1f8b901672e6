import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A seller inside a `mall` tenant; the mall keeps `commissionRate` basis points of its sales. */
@Entity({ schema: 'identity', name: 'vendors' })
export class VendorEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ name: 'commission_rate', type: 'integer' })
  commissionRate!: number;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
