import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { MigrationClass } from './data-source';
import { createIdempotencyKeysPurge, createIdempotencyKeysTable, dropIdempotencyKeysPurge, dropIdempotencyKeysTable } from './idempotency-keys-table';
import { createTenantIdsListing, dropTenantIdsListing, type TenantIdsSource } from './tenant-listing';

/**
 * A TypeORM migration class built from its steps, for migrations the libraries provide and every service applies
 * to its own schema. `name` ends with the migration's timestamp: TypeORM orders migrations by it and records the
 * name, so a factory-built class is indistinguishable from a hand-written one with the same name.
 */
export function migrationClass(
  name: string,
  steps: { up(q: QueryRunner): Promise<void>; down(q: QueryRunner): Promise<void> },
): MigrationClass {
  const cls = class implements MigrationInterface {
    name = name;
    up(q: QueryRunner): Promise<void> {
      return steps.up(q);
    }
    down(q: QueryRunner): Promise<void> {
      return steps.down(q);
    }
  };
  // TypeORM also reads the timestamp from the class name's trailing digits.
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** `<schema>.idempotency_keys`, the shared `Idempotency-Key` store's table (createIdempotencyKeysTable). */
export function idempotencyKeysTableMigration(schema: string, timestamp = 1795300000000): MigrationClass {
  return migrationClass(`IdempotencyKeysTable${timestamp}`, {
    up: (q) => createIdempotencyKeysTable(q, schema),
    down: (q) => dropIdempotencyKeysTable(q, schema),
  });
}

/**
 * The purge of expired keys (createIdempotencyKeysPurge), which PersistenceModule's `purgeIdempotencyKeys` calls:
 * the runtime role sees one tenant at a time, so it goes through a SECURITY DEFINER function of the schema owner
 * that deletes expired rows only.
 */
export function idempotencyKeysPurgeMigration(schema: string, timestamp = 1795400000000): MigrationClass {
  return migrationClass(`IdempotencyKeysPurge${timestamp}`, {
    up: (q) => createIdempotencyKeysPurge(q, schema),
    down: (q) => dropIdempotencyKeysPurge(q, schema),
  });
}

/**
 * `<schema>.tenant_ids_after` (createTenantIdsListing), which `TenantTransactions.allTenantIds()` calls: the ids of
 * the tenants that have rows in `source`, for system work that visits every tenant under RLS.
 */
export function tenantIdsListingMigration(schema: string, source: TenantIdsSource, timestamp: number): MigrationClass {
  return migrationClass(`TenantIdsListing${timestamp}`, {
    up: (q) => createTenantIdsListing(q, schema, source),
    down: (q) => dropTenantIdsListing(q, schema, source),
  });
}
