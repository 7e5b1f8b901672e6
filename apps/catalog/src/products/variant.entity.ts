import type { VariantFulfillment } from '@tessera/contracts';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from './money';

/** The variant's own state; what is sellable also depends on the product (see effectiveStatus). */
export type VariantStatus = 'active' | 'archived';

/** A sellable variant of a product: its SKU is unique in the tenant; prices are integer minor units. */
@Entity({ schema: 'catalog', name: 'variants' })
export class VariantEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ name: 'product_id', type: 'uuid' })
  productId!: string;

  /** Order of the variant inside its product. */
  @Column({ type: 'integer' })
  position!: number;

  @Column({ type: 'text' })
  sku!: string;

  @Column({ name: 'price_amount', type: 'bigint', transformer: bigintAsNumber })
  priceAmount!: number;

  @Column({ type: 'char', length: 3 })
  currency!: string;

  @Column({ name: 'compare_at_amount', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  compareAtAmount!: number | null;

  @Column({ type: 'text' })
  fulfillment!: VariantFulfillment;

  @Column({ name: 'weight_grams', type: 'integer', nullable: true })
  weightGrams!: number | null;

  @Column({ type: 'jsonb' })
  options!: Record<string, string>;

  @Column({ type: 'text' })
  status!: VariantStatus;

  @Column({ type: 'integer' })
  version!: number;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
