import { deadLettersMigration, messagingTablesMigration, outboxRlsMigration } from '@tessera/messaging';
import { idempotencyKeysPurgeMigration, idempotencyKeysTableMigration, tenantIdsListingMigration } from '@tessera/persistence';
import { CatalogSchema1763900000000 } from './1763900000000-catalog-schema';
import { IdentityReadModel1796300000000 } from './1796300000000-identity-read-model';

/** Every catalog migration, in order. */
export const CATALOG_MIGRATIONS = [
  messagingTablesMigration('catalog', 1763700000000),
  CatalogSchema1763900000000,
  // Idempotency-Key of POST /v1/products: the shared store's table, then its purge of expired keys.
  idempotencyKeysTableMigration('catalog'),
  idempotencyKeysPurgeMigration('catalog'),
  // Tenant types and mall vendors from identity's events (products' vendorId).
  IdentityReadModel1796300000000,
  // The operator's republish visits every tenant with products: their ids, through a SECURITY DEFINER function of the owner.
  tenantIdsListingMigration('catalog', { table: 'products', column: 'tenant_id' }, 1796400000000),
  // The outbox under tenant isolation, the relay's session excepted.
  outboxRlsMigration('catalog'),
  // Events whose handler keeps failing, parked with the later events of their key (EVENT_MAX_ATTEMPTS).
  deadLettersMigration('catalog'),
];
