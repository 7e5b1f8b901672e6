import type { ProductEventV1, VariantEventV1 } from '@tessera/contracts';
import { isUuid } from '@tessera/persistence';
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

/** Why a catalog payload cannot be applied (a producer bug): it is logged and skipped, never retried forever. */
export function variantPayloadProblem(v: Partial<VariantEventV1> | null | undefined): string | null {
  if (!v || typeof v !== 'object') return 'no payload';
  if (!isUuid(String(v.variantId)) || !isUuid(String(v.productId))) return 'variantId/productId is not a UUID';
  if (typeof v.sku !== 'string' || v.sku.length === 0) return 'sku is missing';
  if (!Number.isSafeInteger(v.priceAmount) || (v.priceAmount as number) < 0) return 'priceAmount is not a non-negative integer';
  if (typeof v.currency !== 'string' || !/^[A-Z]{3}$/.test(v.currency)) return 'currency is not ISO 4217';
  if (typeof v.status !== 'string') return 'status is missing';
  if (!Number.isInteger(v.version)) return 'version is missing';
  if (v.condition !== undefined && v.condition !== 'new' && v.condition !== 'used') return 'condition is neither new nor used';
  return null;
}

export function productPayloadProblem(p: Partial<ProductEventV1> | null | undefined): string | null {
  if (!p || typeof p !== 'object') return 'no payload';
  if (!isUuid(String(p.productId))) return 'productId is not a UUID';
  if (typeof p.status !== 'string') return 'status is missing';
  if (!Number.isInteger(p.version)) return 'version is missing';
  return null;
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
