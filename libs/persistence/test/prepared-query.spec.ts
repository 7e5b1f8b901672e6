import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import type { DataSource } from 'typeorm';
import { createServiceDataSource, PreparedQuery, runMigrations, runtimeDatabaseUrl, TenantTransactions } from '../src';
import { newTenant, uniqueSchema } from './fixtures/helpers';
import { Widget } from './fixtures/widget.entity';
import { widgetMigrations } from './fixtures/widget.migrations';

const PASSWORD = 'runtime-pw';
const schema = uniqueSchema('prepared');
const tenantA = newTenant();
const tenantB = newTenant();

let db: TestDatabase;
let ds: DataSource;
let tenants: TenantTransactions;

beforeAll(async () => {
  db = await createTestDatabase();
  await runMigrations({ adminUrl: db.url, schema, migrations: widgetMigrations(schema), password: PASSWORD });
  // One connection: the second call must find the statement already prepared on it.
  ds = await createServiceDataSource({ url: runtimeDatabaseUrl(db.url, schema, PASSWORD), schema, entities: [Widget], poolSize: 1 }).initialize();
  tenants = new TenantTransactions(ds);
  await tenants.run(tenantA, (tx) => tx.repo(Widget).save([{ tenantId: tenantA, name: 'a1' }]));
  await tenants.run(tenantB, (tx) => tx.repo(Widget).save([{ tenantId: tenantB, name: 'b1' }]));
});

afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

const NAMES = new PreparedQuery<{ name: string }>(`SELECT name FROM widgets WHERE name LIKE $1 ORDER BY name`);

describe('PreparedQuery', () => {
  it('runs as a named statement in the transaction, under its tenant (RLS), reused on the same connection', async () => {
    expect(await tenants.run(tenantA, (tx) => NAMES.rows(tx.manager, ['%']))).toEqual([{ name: 'a1' }]);
    expect(await tenants.run(tenantB, (tx) => NAMES.rows(tx.manager, ['%']))).toEqual([{ name: 'b1' }]);
    const prepared: { name: string }[] = await tenants.run(tenantA, (tx) =>
      tx.manager.query(`SELECT name FROM pg_prepared_statements WHERE name = $1`, [NAMES.name]),
    );
    expect(prepared).toEqual([{ name: NAMES.name }]);
  });

  it('sees the transaction own uncommitted writes and rolls back with it', async () => {
    const insert = new PreparedQuery<{ name: string }>(`INSERT INTO widgets (tenant_id, name) VALUES ($1, $2) RETURNING name`);
    await expect(
      tenants.run(tenantA, async (tx) => {
        expect(await insert.rows(tx.manager, [tenantA, 'a-rolled-back'])).toEqual([{ name: 'a-rolled-back' }]);
        expect(await NAMES.rows(tx.manager, ['a-rolled%'])).toEqual([{ name: 'a-rolled-back' }]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await tenants.run(tenantA, (tx) => NAMES.rows(tx.manager, ['a-rolled%']))).toEqual([]);
  });

  it('names a statement after its text and refuses a manager outside a transaction', async () => {
    expect(new PreparedQuery(NAMES.text).name).toBe(NAMES.name);
    expect(new PreparedQuery(`${NAMES.text} `).name).not.toBe(NAMES.name);
    await expect(NAMES.rows(ds.manager, ['%'])).rejects.toThrow(/not in a transaction/);
  });
});
