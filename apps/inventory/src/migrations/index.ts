import { messagingTablesMigration } from '@tessera/messaging';
import type { MigrationClass } from '@tessera/persistence';
import { InventorySchema1763800000000 } from './1763800000000-inventory-schema';
import { IdempotencyKeysTable1795300000000 } from './1795300000000-idempotency-keys';
import { IdempotencyKeysPurge1795400000000 } from './1795400000000-idempotency-keys-purge';

export const INVENTORY_SCHEMA = 'inventory';

/** Every migration of the inventory schema, oldest first. */
export const inventoryMigrations: MigrationClass[] = [
  messagingTablesMigration(INVENTORY_SCHEMA),
  InventorySchema1763800000000,
  IdempotencyKeysTable1795300000000,
  IdempotencyKeysPurge1795400000000,
];
