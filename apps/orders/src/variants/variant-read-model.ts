import type { ProductEventV1, VariantEventV1 } from '@tessera/contracts';
import type { EntityManager } from 'typeorm';
import { preparedRows } from '@tessera/persistence';

export interface SellableVariant {
  variantId: string;
  sku: string;
  priceAmount: number;
  currency: string;
  /** The stock condition it sells (new or used). */
  condition: 'new' | 'used';
  /** The variant's effective status, and the product's when the product's own events were seen. */
  status: string;
  productStatus: string | null;
}

export function isSellable(v: SellableVariant): boolean {
  return v.status === 'active' && (v.productStatus === null || v.productStatus === 'active');
}

/**
 * The local read model of the catalog. Catalog events carry the aggregate's version: an upsert only wins over
 * an older version, so duplicates, replays and late deliveries leave the newest state in place.
 */
export const VariantReadModel = {
  async applyVariant(manager: EntityManager, v: VariantEventV1, occurredAt: string): Promise<void> {
    await preparedRows(
      manager,
      `INSERT INTO variants (variant_id, product_id, sku, price_amount, currency, status, version, occurred_at, condition)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (tenant_id, variant_id) DO UPDATE SET
         product_id = EXCLUDED.product_id, sku = EXCLUDED.sku, price_amount = EXCLUDED.price_amount,
         currency = EXCLUDED.currency, status = EXCLUDED.status, version = EXCLUDED.version,
         occurred_at = EXCLUDED.occurred_at, condition = EXCLUDED.condition
       WHERE variants.version < EXCLUDED.version`,
      // Events from before the field existed sold new stock.
      [v.variantId, v.productId, v.sku, v.priceAmount, v.currency, v.status, v.version, occurredAt, v.condition === 'used' ? 'used' : 'new'],
    );
  },

  async applyProduct(manager: EntityManager, p: ProductEventV1, statusOverride?: string): Promise<void> {
    await preparedRows(
      manager,
      `INSERT INTO products (product_id, status, version) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id, product_id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version, updated_at = now()
       WHERE products.version < EXCLUDED.version`,
      [p.productId, statusOverride ?? p.status, p.version],
    );
  },

  /** The current variant of each SKU (the latest seen when a SKU moved between variants). */
  async lookup(manager: EntityManager, tenantId: string, skus: string[]): Promise<Map<string, SellableVariant>> {
    const rows = await preparedRows<Omit<SellableVariant, 'priceAmount'> & { priceAmount: string }>(
      manager,
      `SELECT DISTINCT ON (v.sku) v.variant_id AS "variantId", v.sku, v.price_amount AS "priceAmount",
              v.currency, v.condition, v.status, p.status AS "productStatus"
       FROM variants v
       LEFT JOIN products p ON p.tenant_id = v.tenant_id AND p.product_id = v.product_id
       WHERE v.tenant_id = $1 AND v.sku = ANY($2::text[])
       ORDER BY v.sku, v.occurred_at DESC, v.version DESC`,
      [tenantId, skus],
    );
    return new Map(rows.map((r) => [r.sku, { ...r, priceAmount: Number(r.priceAmount) }]));
  },
};
