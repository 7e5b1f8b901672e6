import { isUuid } from '../envelope';

/**
 * Payloads of the catalog context's events (topic `tessera.catalog.events`). Every catalog event is partitioned by
 * the product id, so a product's events and its variants' events keep their relative order; the subject is the
 * product id for product events and the variant id for variant events. `version` grows by one on every change of
 * the aggregate it describes: a read model keeps the highest version it has seen and ignores older ones.
 */

export const CatalogEventTypes = {
  ProductCreated: 'catalog.product.created',
  ProductUpdated: 'catalog.product.updated',
  ProductArchived: 'catalog.product.archived',
  VariantCreated: 'catalog.variant.created',
  VariantUpdated: 'catalog.variant.updated',
} as const;

export type ProductStatus = 'draft' | 'active' | 'archived';
export type VariantFulfillment = 'physical' | 'digital';
/**
 * Whether a variant can be sold right now: `active` only when both the variant and its product are active;
 * `draft` while the product is a draft; `archived` when either is archived.
 */
export type VariantSellStatus = 'active' | 'draft' | 'archived';

export interface ProductEventV1 {
  tenantId: string;
  productId: string;
  vendorId: string | null;
  title: string;
  status: ProductStatus;
  version: number;
  /** ISO 8601 UTC time of the change. */
  occurredAt: string;
}

export type ProductCreatedV1 = ProductEventV1;

export interface ProductUpdatedV1 extends ProductEventV1 {
  /** The product fields this change touched, e.g. `["title", "status"]`. */
  changed: string[];
}

export type ProductArchivedV1 = ProductEventV1;

export interface VariantEventV1 {
  tenantId: string;
  variantId: string;
  productId: string;
  sku: string;
  /** Integer minor units of `currency` (ISO 4217). */
  priceAmount: number;
  currency: string;
  compareAtAmount: number | null;
  /** Effective status: the product's draft or archived state wins over the variant's own. */
  status: VariantSellStatus;
  fulfillment: VariantFulfillment;
  /**
   * The stock condition the variant sells: its `condition` option, `new` when it has none (a used part is its own
   * variant, with its own SKU and price). Orders pass it on, and inventory reserves from stock of that condition.
   * Absent (events published before 2026-12-06): `new`.
   */
  condition?: 'new' | 'used';
  version: number;
  occurredAt: string;
}

export type VariantCreatedV1 = VariantEventV1;

export interface VariantUpdatedV1 extends VariantEventV1 {
  /** What changed: variant fields (`priceAmount`, `options`...) and/or `status` when the effective status moved. */
  changed: string[];
}

/**
 * Why a variant event's payload cannot be applied (a producer bug, which no retry can fix: consumers log it and move
 * on), or null when it has the shape above.
 */
export function variantEventProblem(v: Partial<VariantEventV1> | null | undefined): string | null {
  if (!v || typeof v !== 'object') return 'no payload';
  if (!isUuid(v.variantId) || !isUuid(v.productId)) return 'variantId/productId is not a UUID';
  if (typeof v.sku !== 'string' || v.sku.length < 1 || v.sku.length > 128) return 'sku is not 1 to 128 characters';
  if (!Number.isSafeInteger(v.priceAmount) || (v.priceAmount as number) < 0) return 'priceAmount is not a non-negative integer';
  if (typeof v.currency !== 'string' || !/^[A-Z]{3}$/.test(v.currency)) return 'currency is not ISO 4217';
  if (typeof v.status !== 'string') return 'status is missing';
  if (!Number.isSafeInteger(v.version) || (v.version as number) > 2_147_483_647) return 'version is not an integer';
  if (v.condition !== undefined && v.condition !== 'new' && v.condition !== 'used') return 'condition is neither new nor used';
  return null;
}

/** The same for product events. */
export function productEventProblem(p: Partial<ProductEventV1> | null | undefined): string | null {
  if (!p || typeof p !== 'object') return 'no payload';
  if (!isUuid(p.productId)) return 'productId is not a UUID';
  if (typeof p.status !== 'string') return 'status is missing';
  if (!Number.isInteger(p.version)) return 'version is missing';
  return null;
}
