import { deadLettersMigration, messagingTablesMigration, outboxRlsMigration } from '@tessera/messaging';
import { idempotencyKeysPurgeMigration, idempotencyKeysTableMigration, type MigrationClass } from '@tessera/persistence';
import { InventorySchema1763800000000 } from './1763800000000-inventory-schema';
import { ReservationCommitRefused1796000000000 } from './1796000000000-reservation-commit-refused';
import { CatalogVariants1796100000000 } from './1796100000000-catalog-variants';
import { RequestActor1796200000000 } from './1796200000000-request-actor';
import { CashOnDeliveryTtl1796400000000 } from './1796400000000-cash-on-delivery-ttl';
import { CatalogVariantCondition1796700000000 } from './1796700000000-catalog-variant-condition';
import { StockLowAlerted1796800000000 } from './1796800000000-stock-low-alerted';

export const INVENTORY_SCHEMA = 'inventory';

/** Every migration of the inventory schema, oldest first. */
export const inventoryMigrations: MigrationClass[] = [
  messagingTablesMigration(INVENTORY_SCHEMA),
  InventorySchema1763800000000,
  // Idempotency-Key of POST /v1/inventory/locations and /movements: the shared store's table, then its purge of expired keys.
  idempotencyKeysTableMigration(INVENTORY_SCHEMA),
  idempotencyKeysPurgeMigration(INVENTORY_SCHEMA),
  ReservationCommitRefused1796000000000,
  // The catalog read model (catalog.variant.* events): movements refuse SKUs the tenant's catalog never announced.
  CatalogVariants1796100000000,
  // Who asked for a queued hot-SKU reservation, for its ledger rows.
  RequestActor1796200000000,
  // Cash-on-delivery reservations live for a tenant setting of their own (14 days by default).
  CashOnDeliveryTtl1796400000000,
  // The outbox under tenant isolation, the relay's session excepted.
  outboxRlsMigration(INVENTORY_SCHEMA),
  // The condition each variant sells: a movement without a condition is in it.
  CatalogVariantCondition1796700000000,
  // inventory.stock.low once per dip to the reorder point, not again until a restock.
  StockLowAlerted1796800000000,
  // Events whose handler keeps failing, parked with the later events of their key (EVENT_MAX_ATTEMPTS).
  deadLettersMigration(INVENTORY_SCHEMA),
];
