import { ensureMessagingSchema } from '@tessera/messaging';
import { revertLastMigration, runMigrations } from '@tessera/persistence';
import { createTestDatabase, DEAD_LETTERS_RLS_ON, OUTBOX_RLS_OFF, OUTBOX_RLS_ON, OUTBOX_RLS_SQL, type TestDatabase } from '@tessera/testing';
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

  /** The purge of expired Idempotency-Keys: its function and the policies on the table (none once the table is gone). */
  const purge = async (): Promise<{ fn: boolean; policies: string[] | null }> =>
    (
      await admin.query(
        `SELECT to_regprocedure('orders.purge_expired_idempotency_keys(integer)') IS NOT NULL AS fn,
                (SELECT array_agg(polname::text ORDER BY polname) FROM pg_policy WHERE polrelid = to_regclass('orders.idempotency_keys')) AS policies`,
      )
    ).rows[0];
  const conditionColumns = async () =>
    (await admin.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = 'orders' AND column_name = 'condition'`)).rows[0].n;
  const PURGE_POLICIES = ['purge_expired_delete', 'purge_expired_select', 'tenant_isolation'];

  it('applies, reverts and re-applies cleanly, with forced RLS on every tenant table', async () => {
    const run = () => runMigrations({ adminUrl: db.url, schema: ORDERS_SCHEMA, migrations: ORDERS_MIGRATIONS, password: APP_PASSWORD, extraSchemas: ['messaging'] });
    await run();
    expect(await tables()).toEqual(
      ['dead_letters', 'idempotency_keys', 'migrations', 'order_history', 'order_items', 'orders', 'outbox_events', 'parked_events', 'processed_events', 'products', 'variants'],
    );
    const { rows } = await admin.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'orders' AND c.relkind = 'r' AND c.relrowsecurity AND c.relforcerowsecurity ORDER BY 1`,
    );
    expect(rows.map((r) => r.relname)).toEqual(['dead_letters', 'idempotency_keys', 'order_history', 'order_items', 'orders', 'outbox_events', 'parked_events', 'products', 'variants']);
    const outboxRls = async () => (await admin.query(OUTBOX_RLS_SQL, ['orders.outbox_events'])).rows[0];
    expect(await outboxRls()).toEqual(OUTBOX_RLS_ON);
    const deadLettersRls = async () => (await admin.query(OUTBOX_RLS_SQL, ['orders.dead_letters'])).rows[0];
    expect(await deadLettersRls()).toEqual(DEAD_LETTERS_RLS_ON);

    expect(await claimColumn()).toBe(true);
    expect(await purge()).toEqual({ fn: true, policies: PURGE_POLICIES });

    const revert = () => revertLastMigration({ adminUrl: db.url, schema: ORDERS_SCHEMA, migrations: ORDERS_MIGRATIONS });
    expect(await revert()).toBe('DeadLetters1797500000000');
    expect(await tables()).not.toContain('dead_letters');
    expect(await outboxRls()).toEqual(OUTBOX_RLS_ON);
    expect(await revert()).toBe('OutboxRls1796600000000');
    expect(await outboxRls()).toEqual(OUTBOX_RLS_OFF);
    expect(await conditionColumns()).toBe(2);
    expect(await revert()).toBe('LineCondition1796000000000');
    expect(await conditionColumns()).toBe(0);
    expect(await revert()).toBe('IdempotencyKeysPurge1795400000000');
    expect(await purge()).toEqual({ fn: false, policies: ['tenant_isolation'] });
    expect(await claimColumn()).toBe(true);
    expect(await revert()).toBe('IdempotencyClaim1795300000000');
    expect(await claimColumn()).toBe(false);
    expect(await revert()).toBe('OrdersSchema1763800000000');
    expect(await tables()).toEqual(['migrations', 'outbox_events', 'processed_events']);
    await run();
    expect(await tables()).toContain('orders');
    expect(await outboxRls()).toEqual(OUTBOX_RLS_ON);
    expect(await deadLettersRls()).toEqual(DEAD_LETTERS_RLS_ON);
    expect(await purge()).toEqual({ fn: true, policies: PURGE_POLICIES });
  });
});
