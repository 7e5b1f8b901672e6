import { messagingTablesMigration } from '@tessera/messaging';
import { CatalogSchema1763900000000 } from './1763900000000-catalog-schema';
import { IdempotencyKeysTable1795300000000 } from './1795300000000-idempotency-keys';
import { IdempotencyKeysPurge1795400000000 } from './1795400000000-idempotency-keys-purge';

/** Every catalog migration, in order. */
export const CATALOG_MIGRATIONS = [
  messagingTablesMigration('catalog', 1763700000000),
  CatalogSchema1763900000000,
  IdempotencyKeysTable1795300000000,
  IdempotencyKeysPurge1795400000000,
];
