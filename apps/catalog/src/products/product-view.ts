import { effectiveStatus } from './catalog-events';
import type { ProductDto } from './dto/product.dto';
import type { VariantDto } from './dto/variant.dto';
import type { ProductEntity } from './product.entity';
import type { VariantEntity } from './variant.entity';

export function toVariantDto(v: VariantEntity, product: ProductEntity): VariantDto {
  return {
    id: v.id,
    productId: v.productId,
    sku: v.sku,
    priceAmount: v.priceAmount,
    currency: v.currency,
    compareAtAmount: v.compareAtAmount,
    fulfillment: v.fulfillment,
    weightGrams: v.weightGrams,
    options: v.options,
    status: v.status,
    effectiveStatus: effectiveStatus(product.status, v.status),
    version: v.version,
    createdAt: v.createdAt.toISOString(),
    updatedAt: v.updatedAt.toISOString(),
  };
}

/** The API view of a product with its variants (in position order). */
export function toProductDto(p: ProductEntity, variants: VariantEntity[]): ProductDto {
  return {
    id: p.id,
    vendorId: p.vendorId,
    title: p.title,
    description: p.description,
    status: p.status,
    attributes: p.attributes,
    images: p.images,
    variants: [...variants].sort((a, b) => a.position - b.position).map((v) => toVariantDto(v, p)),
    version: p.version,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}
