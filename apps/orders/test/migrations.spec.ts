import { ensureMessagingSchema } from '@tessera/messaging';
import { revertLastMigration, runMigrations } from '@tessera/persistence';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { Client } from 'pg';
import { ORDERS_MIGRATIONS, ORDERS_SCHEMA } from '../src/migrations';

const APP_PASSWORD = 'orders-tests-runtime-password';

describe('orders migrations', () => {
  let db: TestDatabase;
  let admin: Client;

  beforeAll(async () => {
    db = await createTestDatabase('ordersmig');
    await ensureMessagingSchema(db.url);
    admin = new Client({ connectionString: db.url });
    await admin.connect();
  });

  afterAll(async () => {
    await admin.end();
    await db.drop();
  });

  const tables = async (): Promise<string[]> =>
    (await admin.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'orders' ORDER BY 1`)).rows.map((r) => r.t);

  const claimColumn = async (): Promise<boolean> =>
    (await admin.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = 'orders' AND table_name = 'idempotency_keys' AND column_name = 'claim'`))
      .rowCount === 1;

  it('applies, reverts and re-applies cleanly, with forced RLS on every tenant table', async () => {
    const run = () => runMigrations({ adminUrl: db.url, schema: ORDERS_SCHEMA, migrations: ORDERS_MIGRATIONS, password: APP_PASSWORD, extraSchemas: ['messaging'] });
    await run();
    expect(await tables()).toEqual(
      ['idempotency_keys', 'migrations', 'order_history', 'order_items', 'orders', 'outbox_events', 'parked_events', 'processed_events', 'products', 'variants'],
    );
    const { rows } = await admin.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'orders' AND c.relkind = 'r' AND c.relrowsecurity AND c.relforcerowsecurity ORDER BY 1`,
    );
    expect(rows.map((r) => r.relname)).toEqual(['idempotency_keys', 'order_history', 'order_items', 'orders', 'parked_events', 'products', 'variants']);

    expect(await claimColumn()).toBe(true);

    const revert = () => revertLastMigration({ adminUrl: db.url, schema: ORDERS_SCHEMA, migrations: ORDERS_MIGRATIONS });
    expect(await revert()).toBe('IdempotencyClaim1795300000000');
    expect(await claimColumn()).toBe(false);
    expect(await revert()).toBe('OrdersSchema1763800000000');
    expect(await tables()).toEqual(['migrations', 'outbox_events', 'processed_events']);
    await run();
    expect(await tables()).toContain('orders');
  });
});
