import type { TenantTransactions, TenantTx } from '@tessera/persistence';
import type { EntityManager } from 'typeorm';
import { unknownSku } from './errors';
import type { StockCondition } from './types';

/** A catalog variant as inventory keeps it (`catalog_variants`). */
export interface CatalogVariant {
  variantId: string;
  productId: string;
  sku: string;
  /** The catalog's effective status (`active`, `draft`, `archived`): kept, not used to refuse movements. */
  status: string;
  version: number;
  occurredAt: string;
}

/**
 * Inventory's read model of the catalog, built from `catalog.variant.created|updated`: which SKUs a tenant's catalog
 * has. Each variant keeps the highest catalog `version` seen, so redelivered and reordered events leave the newest
 * state in place. Eventually consistent: a SKU is known here a moment after the catalog created it.
 */
export class CatalogReadModel {
  constructor(private readonly tenants: TenantTransactions) {}

  /**
   * Applies one variant event in the caller's transaction, whose tenant is already set (the inbox's). `applied` when
   * it changed the row, `stale` when an equal or newer version was already there.
   */
  async applyIn(manager: EntityManager, v: CatalogVariant): Promise<'applied' | 'stale'> {
    const [{ n }]: { n: number }[] = await manager.query(
      // Wrapped in a SELECT: TypeORM answers some bare DML ... RETURNING with [rows, count], not rows.
      `WITH u AS (
         INSERT INTO catalog_variants (variant_id, product_id, sku, status, version, occurred_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, variant_id) DO UPDATE SET
           product_id = EXCLUDED.product_id, sku = EXCLUDED.sku, status = EXCLUDED.status, version = EXCLUDED.version,
           occurred_at = EXCLUDED.occurred_at, updated_at = now()
         WHERE catalog_variants.version < EXCLUDED.version
         RETURNING 1
       ) SELECT count(*)::int AS n FROM u`,
      [v.variantId, v.productId, v.sku, v.status, v.version, v.occurredAt],
    );
    return n > 0 ? 'applied' : 'stale';
  }

  /** `applyIn` in a transaction of its own (tools and tests; events go through the inbox). */
  apply(tenantId: string, v: CatalogVariant): Promise<'applied' | 'stale'> {
    return this.tenants.run(tenantId, (tx) => this.applyIn(tx.manager, v));
  }

  /** The variants the tenant's catalog announced that hold this SKU now (usually one). */
  async variantsOf(tenantId: string, sku: string): Promise<CatalogVariant[]> {
    return this.tenants.run(tenantId, (tx) =>
      tx.manager.query(
        `SELECT variant_id AS "variantId", product_id AS "productId", sku, status, version,
                to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "occurredAt"
         FROM catalog_variants WHERE tenant_id = $1 AND sku = $2 ORDER BY occurred_at DESC, variant_id`,
        [tenantId, sku],
      ),
    );
  }
}

/**
 * A staff write may only create stock for a SKU of the tenant's catalog (any status: stock of a draft product may
 * arrive before launch, an archived one's returns still come back). `existing`, for adjust, transfer and reorder
 * policies, also accepts the SKU when the stock row it changes already exists, so that stock of a SKU the catalog
 * renamed since (or from before this read model) can still be counted and moved out. Otherwise: 422 unknown_sku.
 */
export async function assertKnownSku(
  tx: TenantTx,
  sku: string,
  existing: { locationId: string; condition: StockCondition } | null,
): Promise<void> {
  const [{ known }]: { known: boolean }[] = await tx.manager.query(
    `SELECT EXISTS (SELECT 1 FROM catalog_variants WHERE tenant_id = $1 AND sku = $2)
         OR EXISTS (SELECT 1 FROM stock_levels WHERE tenant_id = $1 AND sku = $2 AND location_id = $3::uuid AND condition = $4) AS known`,
    [tx.tenantId, sku, existing?.locationId ?? null, existing?.condition ?? null],
  );
  if (!known) throw unknownSku(sku);
}
