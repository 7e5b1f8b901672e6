import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { DataSource } from 'typeorm';
import {
  createServiceDataSource,
  ownerRoleName,
  revertLastMigration,
  runMigrations,
  runtimeDatabaseUrl,
  runtimeRoleName,
  tenantIdsListingMigration,
  TenantTransactions,
} from '../src';
import { newTenant, uniqueSchema, withClient } from './fixtures/helpers';
import { widgetMigrations } from './fixtures/widget.migrations';

const PASSWORD = 'runtime-pw';
const schema = uniqueSchema('listing');
const migrationsOf = (s: string) => [...widgetMigrations(s), tenantIdsListingMigration(s, { table: 'widgets', column: 'tenant_id' }, 1700000000002)];

let db: TestDatabase;
let ds: DataSource;
let tenants: TenantTransactions;

const admin = (sql: string, params?: unknown[]) => withClient(db.url, (c) => c.query(sql, params));

beforeAll(async () => {
  db = await createTestDatabase();
  await runMigrations({ adminUrl: db.url, schema, migrations: migrationsOf(schema), password: PASSWORD });
  ds = await createServiceDataSource({ url: runtimeDatabaseUrl(db.url, schema, PASSWORD), schema, entities: [], poolSize: 2 }).initialize();
  tenants = new TenantTransactions(ds);
});

afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

async function all(pageSize: number): Promise<string[]> {
  const ids: string[] = [];
  for await (const id of tenants.allTenantIds(pageSize)) ids.push(id);
  return ids;
}

describe('tenant listing (real PostgreSQL)', () => {
  it('lists each tenant with rows once, in id order, across pages; the runtime role still reads no row without its tenant', async () => {
    expect(await all(2)).toEqual([]);
    const ids = [newTenant(), newTenant(), newTenant(), newTenant(), newTenant()];
    // Several rows per tenant (as the admin, past RLS): each id comes once.
    for (const [i, id] of ids.entries()) {
      await admin(`INSERT INTO ${schema}.widgets (tenant_id, name) SELECT $1, 'w' || n FROM generate_series(1, $2::int) n`, [id, i + 1]);
    }
    const sorted = [...ids].sort();
    for (const pageSize of [1, 2, 5, 500]) expect(await all(pageSize)).toEqual(sorted);
    expect((await ds.query(`SELECT tenant_id FROM tenant_ids_after($1::uuid, 2)`, [sorted[2]])).map((r: { tenant_id: string }) => r.tenant_id)).toEqual(sorted.slice(3));
    expect(await ds.query(`SELECT tenant_id FROM tenant_ids_after(NULL, NULL)`)).toEqual([]);
    expect(await tenants.runWithoutTenant((m) => m.query(`SELECT id FROM widgets`))).toEqual([]);
    expect(await tenants.run(ids[0], (tx) => tx.manager.query(`SELECT tenant_id FROM widgets`))).toEqual([{ tenant_id: ids[0] }]);
  });

  it('is a STABLE SECURITY DEFINER function of the schema owner, executable by the runtime role only, and reverts exactly', async () => {
    const fn = `${schema}.tenant_ids_after(uuid, integer)`;
    const { rows } = await admin(
      `SELECT pg_get_userbyid(p.proowner) AS owner, p.prosecdef AS definer, p.provolatile AS volatility, p.proconfig AS config,
              has_function_privilege($2, $1::regprocedure, 'EXECUTE') AS runtime,
              (SELECT count(*)::int FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS public_grants
       FROM pg_proc p WHERE p.oid = $1::regprocedure`,
      [fn, runtimeRoleName(schema)],
    );
    expect(rows).toEqual([{ owner: ownerRoleName(schema), definer: true, volatility: 's', config: [`search_path=${schema}, pg_temp`], runtime: true, public_grants: 0 }]);

    const other = uniqueSchema('listrev');
    const migrations = migrationsOf(other);
    const state = async () =>
      (
        await admin(
          `SELECT (SELECT array_agg(polname::text ORDER BY polname) FROM pg_policy WHERE polrelid = to_regclass($1)) AS policies,
                  to_regprocedure($2) IS NOT NULL AS fn`,
          [`${other}.widgets`, `${other}.tenant_ids_after(uuid, integer)`],
        )
      ).rows[0];
    await runMigrations({ adminUrl: db.url, schema: other, migrations, password: PASSWORD });
    expect(await state()).toEqual({ policies: ['tenant_ids_listing', 'tenant_isolation'], fn: true });
    expect(await revertLastMigration({ adminUrl: db.url, schema: other, migrations })).toBe('TenantIdsListing1700000000002');
    expect(await state()).toEqual({ policies: ['tenant_isolation'], fn: false });
  });
});
