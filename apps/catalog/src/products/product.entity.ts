import type { ProductStatus } from '@tessera/contracts';
import { Column, Entity, PrimaryColumn } from 'typeorm';

export interface ProductImage {
  url: string;
  alt: string | null;
}

/**
 * A product of a tenant's catalog. `seq` (list order and cursors), `sku_text` and `search_document` (maintained by
 * the database, see the schema migration) are not mapped: only search reads them.
 */
@Entity({ schema: 'catalog', name: 'products' })
export class ProductEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  /** The selling vendor in a `mall` tenant; null for single-brand tenants. */
  @Column({ name: 'vendor_id', type: 'uuid', nullable: true })
  vendorId!: string | null;

  @Column({ type: 'text' })
  title!: string;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ type: 'text' })
  status!: ProductStatus;

  @Column({ type: 'jsonb' })
  attributes!: Record<string, string | number | boolean>;

  @Column({ type: 'jsonb' })
  images!: ProductImage[];

  @Column({ type: 'integer' })
  version!: number;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
