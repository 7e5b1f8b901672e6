import { messagingTablesMigration } from '@tessera/messaging';
import { idempotencyKeysPurgeMigration, idempotencyKeysTableMigration } from '@tessera/persistence';
import { CatalogSchema1763900000000 } from './1763900000000-catalog-schema';

/** Every catalog migration, in order. */
export const CATALOG_MIGRATIONS = [
  messagingTablesMigration('catalog', 1763700000000),
  CatalogSchema1763900000000,
  // Idempotency-Key of POST /v1/products: the shared store's table, then its purge of expired keys.
  idempotencyKeysTableMigration('catalog'),
  idempotencyKeysPurgeMigration('catalog'),
];
