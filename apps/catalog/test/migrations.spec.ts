import { revertLastMigration, runMigrations } from '@tessera/persistence';
import { createTestDatabase, DEAD_LETTERS_RLS_ON, OUTBOX_RLS_OFF, OUTBOX_RLS_ON, OUTBOX_RLS_SQL, type TestDatabase } from '@tessera/testing';
import { Client } from 'pg';
import { CATALOG_ENTITIES, CATALOG_SCHEMA } from '../src/entities';
import { CATALOG_MIGRATIONS } from '../src/migrations';
import { installCatalogExtensions } from '../src/migrations/extensions';
import { APP_PASSWORD } from './support/catalog-harness';

const ALL = ['MessagingTables1763700000000', 'CatalogSchema1763900000000', 'IdempotencyKeysTable1795300000000', 'IdempotencyKeysPurge1795400000000', 'IdentityReadModel1796300000000', 'TenantIdsListing1796400000000', 'OutboxRls1796600000000', 'DeadLetters1797500000000'];
const opts = (db: TestDatabase) => ({ adminUrl: db.url, schema: CATALOG_SCHEMA, migrations: CATALOG_MIGRATIONS, entities: CATALOG_ENTITIES });

/** The purge of expired Idempotency-Keys: its function and the policies on the table (none once the table is gone). */
const purge = async (url: string) =>
  (
    await query<{ fn: boolean; policies: string[] | null }>(
      url,
      `SELECT to_regprocedure('catalog.purge_expired_idempotency_keys(integer)') IS NOT NULL AS fn,
              (SELECT array_agg(polname::text ORDER BY polname) FROM pg_policy WHERE polrelid = to_regclass('catalog.idempotency_keys')) AS policies`,
    )
  )[0];

async function query<T extends Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

describe('catalog migrations', () => {
  const dbs: TestDatabase[] = [];
  const fresh = async () => {
    const db = await createTestDatabase('catalog_mig');
    dbs.push(db);
    return db;
  };
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  it('applies, reverts and re-applies cleanly, with RLS forced on every tenant table', async () => {
    const db = await fresh();
    await installCatalogExtensions(db.url);
    await installCatalogExtensions(db.url); // idempotent
    expect(await runMigrations({ ...opts(db), password: APP_PASSWORD })).toEqual(ALL);
    const tables = await query<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean; owner: string }>(
      db.url,
      `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'catalog' AND c.relkind = 'r' AND c.relname IN ('dead_letters', 'idempotency_keys', 'known_tenants', 'known_vendors', 'products', 'variants') ORDER BY c.relname`,
    );
    expect(tables).toEqual([
      { relname: 'dead_letters', relrowsecurity: true, relforcerowsecurity: true, owner: 'tessera_catalog_owner' },
      { relname: 'idempotency_keys', relrowsecurity: true, relforcerowsecurity: true, owner: 'tessera_catalog_owner' },
      { relname: 'known_tenants', relrowsecurity: true, relforcerowsecurity: true, owner: 'tessera_catalog_owner' },
      { relname: 'known_vendors', relrowsecurity: true, relforcerowsecurity: true, owner: 'tessera_catalog_owner' },
      { relname: 'products', relrowsecurity: true, relforcerowsecurity: true, owner: 'tessera_catalog_owner' },
      { relname: 'variants', relrowsecurity: true, relforcerowsecurity: true, owner: 'tessera_catalog_owner' },
    ]);
    expect(await purge(db.url)).toEqual({ fn: true, policies: ['purge_expired_delete', 'purge_expired_select', 'tenant_isolation'] });
    const listing = () =>
      query(db.url, `SELECT to_regprocedure('catalog.tenant_ids_after(uuid, integer)') IS NOT NULL AS fn,
                            (SELECT array_agg(polname::text ORDER BY polname) FROM pg_policy WHERE polrelid = 'catalog.products'::regclass) AS policies`);
    expect(await listing()).toEqual([{ fn: true, policies: ['tenant_ids_listing', 'tenant_isolation'] }]);
    const outbox = async () => (await query(db.url, OUTBOX_RLS_SQL, ['catalog.outbox_events']))[0];
    expect(await outbox()).toEqual(OUTBOX_RLS_ON);
    const deadLetters = async () => (await query(db.url, OUTBOX_RLS_SQL, ['catalog.dead_letters']))[0];
    expect(await deadLetters()).toEqual(DEAD_LETTERS_RLS_ON);
    expect(await revertLastMigration(opts(db))).toBe('DeadLetters1797500000000');
    expect(await query(db.url, `SELECT to_regclass('catalog.dead_letters') AS t`)).toEqual([{ t: null }]);
    expect(await outbox()).toEqual(OUTBOX_RLS_ON);
    expect(await revertLastMigration(opts(db))).toBe('OutboxRls1796600000000');
    expect(await outbox()).toEqual(OUTBOX_RLS_OFF);
    expect(await revertLastMigration(opts(db))).toBe('TenantIdsListing1796400000000');
    expect(await listing()).toEqual([{ fn: false, policies: ['tenant_isolation'] }]);
    expect(await revertLastMigration(opts(db))).toBe('IdentityReadModel1796300000000');
    expect(await query(db.url, `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'catalog' AND c.relname IN ('known_tenants', 'known_vendors')`)).toEqual([]);
    expect(await revertLastMigration(opts(db))).toBe('IdempotencyKeysPurge1795400000000');
    expect(await purge(db.url)).toEqual({ fn: false, policies: ['tenant_isolation'] });
    expect(await revertLastMigration(opts(db))).toBe('IdempotencyKeysTable1795300000000');
    expect(await revertLastMigration(opts(db))).toBe('CatalogSchema1763900000000');
    const left = await query(db.url, `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'catalog' AND c.relname IN ('idempotency_keys', 'products', 'variants')`);
    expect(left).toEqual([]);
    expect(await runMigrations({ ...opts(db), password: APP_PASSWORD })).toEqual(ALL.slice(1));
    expect(await deadLetters()).toEqual(DEAD_LETTERS_RLS_ON);
    expect(await purge(db.url)).toEqual({ fn: true, policies: ['purge_expired_delete', 'purge_expired_select', 'tenant_isolation'] });
  });

  it('the owner role cannot install pg_trgm itself, so the migration stops with a clear message until the admin has', async () => {
    const db = await fresh();
    await query(db.url, 'DROP EXTENSION IF EXISTS pg_trgm');
    // TypeORM prints the failed migration to the console; the assertion below checks the same message.
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    await expect(runMigrations({ ...opts(db), password: APP_PASSWORD })).rejects.toThrow(
      /needs the pg_trgm extension in schema public/,
    );
    log.mockRestore();
    // Proof that the admin step is needed: as the owner role, CREATE EXTENSION is refused (no CREATE on the database).
    await expect(
      query(db.url, `SET ROLE tessera_catalog_owner; CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public`),
    ).rejects.toThrow(/permission denied/);
    await installCatalogExtensions(db.url);
    // The failed run rolled back as a whole (one transaction), so every migration applies now.
    expect(await runMigrations({ ...opts(db), password: APP_PASSWORD })).toEqual(ALL);
  });
});
