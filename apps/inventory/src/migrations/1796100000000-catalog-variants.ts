import { disableTenantRls, enableTenantRls } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'inventory';

/**
 * Inventory's read model of the catalog: the variants (and so the SKUs) each tenant's catalog has announced, built
 * from `catalog.variant.created|updated`. A movement may only create stock for a SKU found here. `version` is the
 * catalog aggregate's version: an upsert only wins over an older one, so a redelivered or late event never
 * overwrites a newer state. `sku` is not unique: a SKU moving between two variants may be held by both for a moment.
 */
export class CatalogVariants1796100000000 implements MigrationInterface {
  name = 'CatalogVariants1796100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ${S}.catalog_variants (
        tenant_id uuid NOT NULL,
        variant_id uuid NOT NULL,
        product_id uuid NOT NULL,
        sku text NOT NULL CHECK (length(sku) BETWEEN 1 AND 128),
        status text NOT NULL,
        version integer NOT NULL,
        occurred_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, variant_id)
      )`);
    await q.query(`CREATE INDEX catalog_variants_sku_idx ON ${S}.catalog_variants (tenant_id, sku)`);
    await enableTenantRls(q, S, 'catalog_variants');
  }

  async down(q: QueryRunner): Promise<void> {
    await disableTenantRls(q, S, 'catalog_variants');
    await q.query(`DROP TABLE ${S}.catalog_variants`);
  }
}
