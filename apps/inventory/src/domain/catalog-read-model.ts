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
  /** The stock condition it sells; null for a row from before inventory kept it (see the migration). */
  condition: StockCondition | null;
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
         INSERT INTO catalog_variants (variant_id, product_id, sku, status, version, occurred_at, condition)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, variant_id) DO UPDATE SET
           product_id = EXCLUDED.product_id, sku = EXCLUDED.sku, status = EXCLUDED.status, version = EXCLUDED.version,
           occurred_at = EXCLUDED.occurred_at, condition = EXCLUDED.condition, updated_at = now()
         WHERE catalog_variants.version < EXCLUDED.version
         RETURNING 1
       ) SELECT count(*)::int AS n FROM u`,
      [v.variantId, v.productId, v.sku, v.status, v.version, v.occurredAt, v.condition],
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
        `SELECT variant_id AS "variantId", product_id AS "productId", sku, status, condition, version,
                to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "occurredAt"
         FROM catalog_variants WHERE tenant_id = $1 AND sku = $2 ORDER BY occurred_at DESC, variant_id`,
        [tenantId, sku],
      ),
    );
  }
}

/**
 * The condition a staff write's stock is in: as asked, or else the one the SKU's variant sells, which is what orders
 * reserve (a receive of a used part's SKU without a condition used to land as new stock, which no order could
 * take). Another condition than the variant's stays possible on purpose: a return waiting to be regraded is stock
 * on the shelf, and the levels show it apart.
 *
 * A write may only create stock for a SKU of the tenant's catalog (any status: stock of a draft product may arrive
 * before launch, an archived one's returns still come back). `existingAt`, for adjust, transfer and reorder
 * policies, also accepts the SKU and condition of a stock row that already exists at that location, so that stock
 * of a SKU the catalog renamed since (or from before this read model) can still be counted and moved out.
 * Otherwise: 422 unknown_sku.
 */
export async function resolveStockCondition(
  tx: TenantTx,
  sku: string,
  requested: StockCondition | undefined,
  existingAt: string | null,
): Promise<StockCondition> {
  const [{ sold, stocked }]: { sold: (StockCondition | null)[]; stocked: StockCondition[] }[] = await tx.manager.query(
    `SELECT
       ARRAY(SELECT condition FROM catalog_variants WHERE tenant_id = $1 AND sku = $2 ORDER BY occurred_at DESC, variant_id) AS sold,
       ARRAY(SELECT condition FROM stock_levels WHERE tenant_id = $1 AND sku = $2 AND location_id = $3::uuid) AS stocked`,
    [tx.tenantId, sku, existingAt],
  );
  // The newest variant holding the SKU decides (two hold it only for a moment, while the catalog moves the SKU); one
  // from before inventory kept conditions (null) counts as new, as it did then.
  const condition = requested ?? sold[0] ?? 'new';
  if (sold.length > 0 || stocked.includes(condition)) return condition;
  throw unknownSku(sku);
}
