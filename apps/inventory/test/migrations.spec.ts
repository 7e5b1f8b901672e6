import { randomUUID } from 'node:crypto';
import { revertLastMigration, runMigrations } from '@tessera/persistence';
import { ensureMessagingSchema } from '@tessera/messaging';
import { createTestDatabase, DEAD_LETTERS_RLS_ON, OUTBOX_RLS_OFF, OUTBOX_RLS_ON, OUTBOX_RLS_SQL, type TestDatabase } from '@tessera/testing';
import { Client } from 'pg';
import { INVENTORY_SCHEMA, inventoryMigrations } from '../src/migrations';
import { PASSWORD } from './harness';

let db: TestDatabase;
let admin: Client;

beforeAll(async () => {
  db = await createTestDatabase('invmig');
  await ensureMessagingSchema(db.url);
  admin = new Client({ connectionString: db.url });
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

const tables = async () =>
  (await admin.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'inventory' AND tablename <> 'migrations' ORDER BY 1`)).rows.map((r) => r.tablename);

/** The purge of expired Idempotency-Keys: its function and the policies on the table (none once the table is gone). */
const purge = async () =>
  (
    await admin.query(
      `SELECT to_regprocedure('inventory.purge_expired_idempotency_keys(integer)') IS NOT NULL AS fn,
              (SELECT array_agg(polname::text ORDER BY polname) FROM pg_policy WHERE polrelid = to_regclass('inventory.idempotency_keys')) AS policies`,
    )
  ).rows[0];
const refusedColumn = async () =>
  (await admin.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = 'inventory' AND table_name = 'reservations' AND column_name = 'commit_refused_at'`)).rows[0].n === 1;
const catalogTable = async () =>
  (
    await admin.query(
      `SELECT c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced, pg_get_userbyid(c.relowner) AS owner,
              (SELECT array_agg(polname::text) FROM pg_policy WHERE polrelid = c.oid) AS policies
       FROM pg_class c WHERE c.oid = to_regclass('inventory.catalog_variants')`,
    )
  ).rows[0] ?? null;
const outboxRls = async () => (await admin.query(OUTBOX_RLS_SQL, ['inventory.outbox_events'])).rows[0];
const codTtlColumn = async () =>
  (
    await admin.query(
      `SELECT 1 FROM information_schema.columns
        WHERE table_schema = 'inventory' AND table_name = 'tenant_settings' AND column_name = 'cod_reservation_ttl_seconds'`,
    )
  ).rowCount === 1;
const hasColumn = async (table: string, column: string) =>
  (await admin.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = 'inventory' AND table_name = $1 AND column_name = $2`, [table, column])).rowCount === 1;
const PURGE_POLICIES = ['purge_expired_delete', 'purge_expired_select', 'tenant_isolation'];
const deadLettersRls = async () => (await admin.query(OUTBOX_RLS_SQL, ['inventory.dead_letters'])).rows[0];

describe('inventory migrations', () => {
  it('apply, put every tenant table under forced RLS owned by the owner role, and revert cleanly', async () => {
    const opts = { adminUrl: db.url, schema: INVENTORY_SCHEMA, migrations: inventoryMigrations, password: PASSWORD, extraSchemas: ['messaging'] };
    expect(await runMigrations(opts)).toEqual([
      'MessagingTables1700000000000', 'InventorySchema1763800000000', 'IdempotencyKeysTable1795300000000', 'IdempotencyKeysPurge1795400000000',
      'ReservationCommitRefused1796000000000', 'CatalogVariants1796100000000', 'RequestActor1796200000000', 'CashOnDeliveryTtl1796400000000',
      'OutboxRls1796600000000', 'CatalogVariantCondition1796700000000', 'StockLowAlerted1796800000000', 'DeadLetters1797500000000',
    ]);
    expect(await tables()).toEqual([
      'catalog_variants', 'dead_letters', 'hot_queue_heads', 'hot_skus', 'idempotency_keys', 'known_tenants', 'ledger', 'locations', 'outbox_events', 'processed_events',
      'reservation_allocations', 'reservation_requests', 'reservations', 'stock_levels', 'tenant_settings',
    ]);
    const rls = await admin.query(
      `SELECT c.relname, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced, pg_get_userbyid(c.relowner) AS owner
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'inventory' AND c.relkind = 'r' AND c.relname NOT IN ('migrations', 'outbox_events', 'processed_events', 'known_tenants', 'hot_queue_heads')
       ORDER BY 1`,
    );
    expect(rls.rows).toHaveLength(11);
    for (const r of rls.rows) expect(r).toMatchObject({ enabled: true, forced: true, owner: 'tessera_inventory_owner' });
    expect(await purge()).toEqual({ fn: true, policies: PURGE_POLICIES });
    expect(await refusedColumn()).toBe(true);
    expect(await catalogTable()).toEqual({ enabled: true, forced: true, owner: 'tessera_inventory_owner', policies: ['tenant_isolation'] });
    expect(await outboxRls()).toEqual(OUTBOX_RLS_ON);
    expect(await deadLettersRls()).toEqual(DEAD_LETTERS_RLS_ON);
    expect(await revertLastMigration(opts)).toBe('DeadLetters1797500000000');
    expect(await tables()).not.toContain('dead_letters');
    expect(await hasColumn('stock_levels', 'low_alerted')).toBe(true);
    expect(await revertLastMigration(opts)).toBe('StockLowAlerted1796800000000');
    expect(await hasColumn('stock_levels', 'low_alerted')).toBe(false);
    expect(await hasColumn('catalog_variants', 'condition')).toBe(true);
    expect(await revertLastMigration(opts)).toBe('CatalogVariantCondition1796700000000');
    expect(await hasColumn('catalog_variants', 'condition')).toBe(false);
    expect(await revertLastMigration(opts)).toBe('OutboxRls1796600000000');
    expect(await outboxRls()).toEqual(OUTBOX_RLS_OFF);
    expect(await codTtlColumn()).toBe(true);
    expect(await revertLastMigration(opts)).toBe('CashOnDeliveryTtl1796400000000');
    expect(await codTtlColumn()).toBe(false);
    expect(await revertLastMigration(opts)).toBe('RequestActor1796200000000');
    expect(await revertLastMigration(opts)).toBe('CatalogVariants1796100000000');
    expect(await catalogTable()).toBeNull();
    expect(await tables()).not.toContain('catalog_variants');
    expect(await revertLastMigration(opts)).toBe('ReservationCommitRefused1796000000000');
    expect(await refusedColumn()).toBe(false);
    expect(await revertLastMigration(opts)).toBe('IdempotencyKeysPurge1795400000000');
    expect(await purge()).toEqual({ fn: false, policies: ['tenant_isolation'] });
    expect(await revertLastMigration(opts)).toBe('IdempotencyKeysTable1795300000000');
    expect(await tables()).not.toContain('idempotency_keys');
    expect(await revertLastMigration(opts)).toBe('InventorySchema1763800000000');
    expect(await tables()).toEqual(['outbox_events', 'processed_events']);
    expect(await runMigrations(opts)).toEqual([
      'InventorySchema1763800000000', 'IdempotencyKeysTable1795300000000', 'IdempotencyKeysPurge1795400000000', 'ReservationCommitRefused1796000000000',
      'CatalogVariants1796100000000', 'RequestActor1796200000000', 'CashOnDeliveryTtl1796400000000', 'OutboxRls1796600000000',
      'CatalogVariantCondition1796700000000', 'StockLowAlerted1796800000000', 'DeadLetters1797500000000',
    ]);
    expect(await outboxRls()).toEqual(OUTBOX_RLS_ON);
    expect(await tables()).toHaveLength(15);
    expect(await deadLettersRls()).toEqual(DEAD_LETTERS_RLS_ON);
    expect(await catalogTable()).toEqual({ enabled: true, forced: true, owner: 'tessera_inventory_owner', policies: ['tenant_isolation'] });
    expect(await purge()).toEqual({ fn: true, policies: PURGE_POLICIES });
  });

  it('StockLowAlerted backfills every tenant\'s rows although the owner it runs as is under forced RLS', async () => {
    const opts = { adminUrl: db.url, schema: INVENTORY_SCHEMA, migrations: inventoryMigrations, password: PASSWORD, extraSchemas: ['messaging'] };
    // The dead letters, applied after it, revert first.
    expect(await revertLastMigration(opts)).toBe('DeadLetters1797500000000');
    expect(await tables()).not.toContain('dead_letters');
    expect(await revertLastMigration(opts)).toBe('StockLowAlerted1796800000000');
    const tenants = [randomUUID(), randomUUID()];
    for (const tenant of tenants) {
      const location = randomUUID();
      await admin.query(`INSERT INTO inventory.locations (id, tenant_id, code, name) VALUES ($1, $2, 'WH', 'Warehouse')`, [location, tenant]);
      await admin.query(
        `INSERT INTO inventory.stock_levels (tenant_id, sku, location_id, on_hand, reorder_point, reorder_quantity)
         VALUES ($1, 'LOW', $2, 3, 5, 10), ($1, 'LOW-NO-POLICY', $2, 0, 0, 0), ($1, 'PLENTY', $2, 50, 5, 10)`,
        [tenant, location],
      );
    }
    expect(await runMigrations(opts)).toEqual(['StockLowAlerted1796800000000', 'DeadLetters1797500000000']);
    const { rows } = await admin.query(`SELECT tenant_id, sku, low_alerted FROM inventory.stock_levels ORDER BY sku, tenant_id`);
    expect(rows.map((r) => [r.sku, r.low_alerted])).toEqual([
      ['LOW', true], ['LOW', true], ['LOW-NO-POLICY', false], ['LOW-NO-POLICY', false], ['PLENTY', false], ['PLENTY', false],
    ]);
    const forced = await admin.query(`SELECT relforcerowsecurity AS forced FROM pg_class WHERE oid = 'inventory.stock_levels'::regclass`);
    expect(forced.rows[0].forced).toBe(true);
  });
});
