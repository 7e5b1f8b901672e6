import { ProductEntity } from './products/product.entity';
import { VariantEntity } from './products/variant.entity';

export const CATALOG_SCHEMA = 'catalog';

export const CATALOG_ENTITIES = [ProductEntity, VariantEntity];
