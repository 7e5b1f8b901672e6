import {
  CatalogEventTypes,
  type ProductEventV1,
  type ProductStatus,
  type ProductUpdatedV1,
  type VariantEventV1,
  type VariantSellStatus,
  type VariantUpdatedV1,
} from '@tessera/contracts';
import type { OutboxEventInput } from '@tessera/messaging';
import type { ProductEntity } from './product.entity';
import type { VariantEntity, VariantStatus } from './variant.entity';

/** What a variant's buyers see: the product's draft or archived state wins over the variant's own. */
export function effectiveStatus(product: ProductStatus, variant: VariantStatus): VariantSellStatus {
  if (variant === 'archived' || product === 'archived') return 'archived';
  return product === 'draft' ? 'draft' : 'active';
}

function productData(p: ProductEntity): ProductEventV1 {
  return {
    tenantId: p.tenantId,
    productId: p.id,
    vendorId: p.vendorId,
    title: p.title,
    status: p.status,
    version: p.version,
    occurredAt: p.updatedAt.toISOString(),
  };
}

function variantData(v: VariantEntity, productStatus: ProductStatus): VariantEventV1 {
  return {
    tenantId: v.tenantId,
    variantId: v.id,
    productId: v.productId,
    sku: v.sku,
    priceAmount: v.priceAmount,
    currency: v.currency,
    compareAtAmount: v.compareAtAmount,
    status: effectiveStatus(productStatus, v.status),
    fulfillment: v.fulfillment,
    condition: v.options?.['condition'] === 'used' ? 'used' : 'new',
    version: v.version,
    occurredAt: v.updatedAt.toISOString(),
  };
}

// Every catalog event is keyed by the product id: a product's events and its variants' events stay in order.
export const productCreated = (p: ProductEntity): OutboxEventInput<ProductEventV1> => ({
  type: CatalogEventTypes.ProductCreated,
  subject: p.id,
  partitionKey: p.id,
  data: productData(p),
});

export const productUpdated = (p: ProductEntity, changed: string[]): OutboxEventInput<ProductUpdatedV1> => ({
  type: CatalogEventTypes.ProductUpdated,
  subject: p.id,
  partitionKey: p.id,
  data: { ...productData(p), changed },
});

export const productArchived = (p: ProductEntity): OutboxEventInput<ProductEventV1> => ({
  type: CatalogEventTypes.ProductArchived,
  subject: p.id,
  partitionKey: p.id,
  data: productData(p),
});

export const variantCreated = (v: VariantEntity, productStatus: ProductStatus): OutboxEventInput<VariantEventV1> => ({
  type: CatalogEventTypes.VariantCreated,
  subject: v.id,
  partitionKey: v.productId,
  data: variantData(v, productStatus),
});

export const variantUpdated = (
  v: VariantEntity,
  productStatus: ProductStatus,
  changed: string[],
): OutboxEventInput<VariantUpdatedV1> => ({
  type: CatalogEventTypes.VariantUpdated,
  subject: v.id,
  partitionKey: v.productId,
  data: { ...variantData(v, productStatus), changed },
});
