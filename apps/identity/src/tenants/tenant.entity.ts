import { Column, Entity, PrimaryColumn } from 'typeorm';

export const TENANT_TYPES = ['single_brand', 'mall'] as const;
export type TenantType = (typeof TENANT_TYPES)[number];
export const TENANT_STATUSES = ['trial', 'active', 'suspended'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

@Entity({ schema: 'identity', name: 'tenants' })
export class TenantEntity {
  // Chosen by the service before insert: the signup transaction is scoped to the new tenant's id (RLS on `id`).
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  slug!: string;

  @Column({ type: 'text' })
  type!: TenantType;

  @Column({ name: 'default_currency', type: 'char', length: 3 })
  defaultCurrency!: string;

  @Column({ type: 'text' })
  plan!: string;

  @Column({ type: 'text' })
  status!: TenantStatus;

  @Column({ type: 'jsonb' })
  settings!: Record<string, unknown>;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
