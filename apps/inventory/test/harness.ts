import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { CatalogEventTypes, type EventEnvelope, type VariantEventV1 } from '@tessera/contracts';
import { createEnvelope, ensureMessagingSchema, Inbox } from '@tessera/messaging';
import { createServiceDataSource, runMigrations, runtimeDatabaseUrl } from '@tessera/persistence';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { InventoryDomain, type InventoryDomainOptions } from '../src/domain';
import { CatalogEventsController } from '../src/events/catalog-events.controller';
import { INVENTORY_SCHEMA, inventoryMigrations } from '../src/migrations';

// Roles are cluster-wide and test files run in parallel: every file must provision the same password.
export const PASSWORD = 'inventory-test-pw';

export interface Harness {
  db: TestDatabase;
  ds: DataSource;
  domain: InventoryDomain;
  /** The real catalog events handler, on the real inbox (group `inventory`) of this database. */
  catalog: CatalogEventsController;
  /** Announces the SKUs to the tenant's catalog read model as catalog.variant.created events would. */
  knowSkus(tenantId: string, ...skus: string[]): Promise<void>;
  /** Superuser query (bypasses RLS) for assertions across the whole table. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test assertions read loosely typed rows
  admin<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** A fresh database migrated as the schema owner, and the domain on the runtime role (RLS applies). */
export async function startHarness(opts: InventoryDomainOptions & { poolSize?: number } = {}): Promise<Harness> {
  const db = await createTestDatabase('inv');
  await ensureMessagingSchema(db.url);
  await runMigrations({ adminUrl: db.url, schema: INVENTORY_SCHEMA, migrations: inventoryMigrations, password: PASSWORD, extraSchemas: ['messaging'] });
  const ds = await createServiceDataSource({
    url: runtimeDatabaseUrl(db.url, INVENTORY_SCHEMA, PASSWORD),
    schema: INVENTORY_SCHEMA,
    entities: [],
    poolSize: opts.poolSize ?? 10,
  }).initialize();
  const domain = new InventoryDomain(ds, opts);
  const catalog = new CatalogEventsController(new Inbox({ dataSource: ds, schema: INVENTORY_SCHEMA, groupId: 'inventory' }), domain);
  const adminClient = new Client({ connectionString: db.url });
  await adminClient.connect();
  return {
    db,
    ds,
    domain,
    catalog,
    knowSkus: (tenantId, ...skus) => announceSkus(catalog, tenantId, ...skus),
    admin: async (sql, params) => (await adminClient.query(sql, params as unknown[])).rows,
    close: async () => {
      await domain.hotQueue.stop();
      await adminClient.end();
      if (ds.isInitialized) await ds.destroy();
      await db.drop();
    },
  };
}

export const newTenant = (): string => randomUUID();

/** The invariants that must hold whatever happened: the ledger replays to every row's on hand and reserved. */
export async function ledgerMismatches(h: Harness): Promise<unknown[]> {
  return h.admin(
    `SELECT s.id, s.on_hand, s.reserved, coalesce(sum(l.delta_on_hand), 0)::int AS ledger_on_hand,
            coalesce(sum(l.delta_reserved), 0)::int AS ledger_reserved
     FROM inventory.stock_levels s LEFT JOIN inventory.ledger l ON l.stock_level_id = s.id
     GROUP BY s.id HAVING s.on_hand <> coalesce(sum(l.delta_on_hand), 0) OR s.reserved <> coalesce(sum(l.delta_reserved), 0)`,
  );
}

/** A catalog variant payload as catalog publishes it (version 1, active, unless given). */
export function catalogVariant(tenantId: string, sku: string, overrides: Partial<VariantEventV1> = {}): VariantEventV1 {
  return {
    tenantId,
    variantId: randomUUID(),
    productId: randomUUID(),
    sku,
    priceAmount: 1000,
    currency: 'EUR',
    compareAtAmount: null,
    status: 'active',
    fulfillment: 'physical',
    version: 1,
    occurredAt: new Date().toISOString(),
    ...overrides,
  };
}

/** The envelope catalog's relay would publish for a variant (keyed by the product id). */
export function variantEvent(
  data: VariantEventV1,
  type: string = data.version === 1 ? CatalogEventTypes.VariantCreated : CatalogEventTypes.VariantUpdated,
): EventEnvelope<VariantEventV1> {
  return createEnvelope({ source: 'catalog', type, subject: data.variantId, tenantId: data.tenantId, data, partitionKey: data.productId });
}

/** Delivers catalog.variant.created for each SKU to the handler (through its inbox), as the transport would. */
export async function announceSkus(target: CatalogEventsController | INestApplication, tenantId: string, ...skus: string[]): Promise<void> {
  const controller = target instanceof CatalogEventsController ? target : target.get(CatalogEventsController);
  for (const sku of skus) await controller.onVariantCreated(variantEvent(catalogVariant(tenantId, sku)));
}

/**
 * Raises a stock row (one that exists, holding nothing reserved) to `onHand` in one step, where receives of at most a
 * million each would take thousands: the row and a matching `adjust`/`found` ledger row, as the superuser (the
 * ledger refuses only UPDATE and DELETE), so the ledger still sums to on hand.
 */
export async function raiseOnHand(h: Harness, sku: string, locationId: string, onHand: number): Promise<void> {
  const [row] = await h.admin(`SELECT id, tenant_id, on_hand FROM inventory.stock_levels WHERE sku = $1 AND location_id = $2 AND reserved = 0`, [sku, locationId]);
  if (!row) throw new Error(`no unreserved stock row of ${sku} at ${locationId}`);
  await h.admin(
    `INSERT INTO inventory.ledger (tenant_id, stock_level_id, sku, location_id, condition, movement, reason, delta_on_hand, delta_reserved,
                                   on_hand_before, on_hand_after, reserved_before, reserved_after, actor)
     VALUES ($1, $2, $3, $4, 'new', 'adjust', 'found', $6::int - $5::int, 0, $5, $6, 0, 0, 'test')`,
    [row.tenant_id, row.id, sku, locationId, row.on_hand, onHand],
  );
  await h.admin(`UPDATE inventory.stock_levels SET on_hand = $2 WHERE id = $1`, [row.id, onHand]);
}
