import { randomUUID } from 'node:crypto';
import { ensureMessagingSchema } from '@tessera/messaging';
import { revertLastMigration, runMigrations, runtimeDatabaseUrl } from '@tessera/persistence';
import { createTestDatabase, DEAD_LETTERS_RLS_ON, OUTBOX_RLS_OFF, OUTBOX_RLS_ON, OUTBOX_RLS_SQL, type TestDatabase } from '@tessera/testing';
import { Client } from 'pg';
import { BILLING_ENTITIES, BILLING_SCHEMA } from '../src/entities';
import { BILLING_MIGRATIONS } from '../src/migrations';

const APP_PASSWORD = 'billing-tests-runtime-password';
const TABLES = ['payments', 'payment_status_changes', 'order_statuses', 'idempotency_keys', 'dead_letters'];
/** Every billing migration, in the order they apply (and the reverse of the order they revert in). */
const ALL = [
  'MessagingTables1763700000000',
  'BillingSchema1763900000000',
  'PaymentAttempts1796500000000',
  'OutboxRls1796600000000',
  'RefundSuperseded1797000000000',
  'IdempotencyKeysTable1797200000000',
  'IdempotencyKeysPurge1797300000000',
  'DeadLetters1797500000000',
];

/** The purge of expired Idempotency-Keys: its function and the policies on the table (null once the table is gone). */
const PURGE_SQL = `SELECT to_regprocedure('billing.purge_expired_idempotency_keys(integer)') IS NOT NULL AS fn,
                          (SELECT array_agg(polname::text ORDER BY polname) FROM pg_policy WHERE polrelid = to_regclass('billing.idempotency_keys')) AS policies`;
const PURGE_ON = { fn: true, policies: ['purge_expired_delete', 'purge_expired_select', 'tenant_isolation'] };

describe('billing migrations', () => {
  let db: TestDatabase;
  let applied: string[];
  const migrate = () =>
    runMigrations({
      adminUrl: db.url,
      schema: BILLING_SCHEMA,
      migrations: BILLING_MIGRATIONS,
      entities: BILLING_ENTITIES,
      password: APP_PASSWORD,
      extraSchemas: ['messaging'],
    });

  beforeAll(async () => {
    db = await createTestDatabase('billing_mig');
    await ensureMessagingSchema(db.url);
    applied = await migrate();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('applies every migration in order', () => {
    expect(applied).toEqual(ALL);
  });

  it('revert and re-apply cleanly', async () => {
    const revert = () => revertLastMigration({ adminUrl: db.url, schema: BILLING_SCHEMA, migrations: BILLING_MIGRATIONS });
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    const attemptColumn = async () =>
      (await admin.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = 'billing' AND table_name = 'payments' AND column_name = 'attempt'`))
        .rowCount === 1;
    const outboxRls = async () => (await admin.query(OUTBOX_RLS_SQL, ['billing.outbox_events'])).rows[0];
    const purge = async () => (await admin.query(PURGE_SQL)).rows[0];
    const idempotencyTable = async () => (await admin.query(`SELECT to_regclass('billing.idempotency_keys') IS NOT NULL AS t`)).rows[0].t as boolean;
    const deadLettersRls = async () => (await admin.query(OUTBOX_RLS_SQL, ['billing.dead_letters'])).rows[0];
    const deadLettersTable = async () => (await admin.query(`SELECT to_regclass('billing.dead_letters') IS NOT NULL AS t`)).rows[0].t as boolean;
    try {
      expect(await deadLettersRls()).toEqual(DEAD_LETTERS_RLS_ON);
      expect(await revert()).toBe('DeadLetters1797500000000');
      expect(await deadLettersTable()).toBe(false);
      expect(await purge()).toEqual(PURGE_ON);
      expect(await revert()).toBe('IdempotencyKeysPurge1797300000000');
      expect(await purge()).toEqual({ fn: false, policies: ['tenant_isolation'] });
      expect(await revert()).toBe('IdempotencyKeysTable1797200000000');
      expect(await idempotencyTable()).toBe(false);
      const refundReasons = async () =>
        (await admin.query(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'payments_refund_reason_check'`)).rows[0].def as string;
      expect(await refundReasons()).toMatch(/payment_superseded/);
      expect(await revert()).toBe('RefundSuperseded1797000000000');
      expect(await refundReasons()).not.toMatch(/payment_superseded/);
      expect(await outboxRls()).toEqual(OUTBOX_RLS_ON);
      expect(await revert()).toBe('OutboxRls1796600000000');
      expect(await outboxRls()).toEqual(OUTBOX_RLS_OFF);
      expect(await attemptColumn()).toBe(true);
      expect(await revert()).toBe('PaymentAttempts1796500000000');
      expect(await attemptColumn()).toBe(false);
      expect(await revert()).toBe('BillingSchema1763900000000');
      const gone = await admin.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'billing' AND table_name = ANY($1)`, [TABLES]);
      expect(gone.rowCount).toBe(0);
      await migrate();
      const back = await admin.query(
        `SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'billing' AND c.relrowsecurity AND c.relforcerowsecurity AND relname = ANY($1)`,
        [TABLES],
      );
      expect(back.rows.map((r) => r.relname).sort()).toEqual([...TABLES].sort());
      expect(await outboxRls()).toEqual(OUTBOX_RLS_ON);
      expect(await refundReasons()).toMatch(/payment_superseded/);
      expect(await purge()).toEqual(PURGE_ON);
      expect(await deadLettersRls()).toEqual(DEAD_LETTERS_RLS_ON);
    } finally {
      await admin.end();
    }
  });

  it('the runtime role sees and writes only the tenant of its transaction', async () => {
    const runtime = new Client({ connectionString: runtimeDatabaseUrl(db.url, BILLING_SCHEMA, APP_PASSWORD) });
    await runtime.connect();
    const [a, b] = [randomUUID(), randomUUID()];
    const insert = `INSERT INTO billing.payments (id, tenant_id, order_id, amount, currency, method, status) VALUES ($1, $2, $3, 100, 'JPY', 'cod', 'pending')`;
    try {
      for (const tenant of [a, b]) {
        await runtime.query('BEGIN');
        await runtime.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenant]);
        await runtime.query(insert, [randomUUID(), tenant, randomUUID()]);
        await runtime.query('COMMIT');
      }
      await runtime.query('BEGIN');
      await runtime.query(`SELECT set_config('app.tenant_id', $1, true)`, [a]);
      const seen = await runtime.query('SELECT tenant_id FROM billing.payments');
      expect(seen.rows).toEqual([{ tenant_id: a }]);
      await expect(runtime.query(insert, [randomUUID(), b, randomUUID()])).rejects.toThrow(/row-level security/);
      await runtime.query('ROLLBACK');
      expect((await runtime.query('SELECT 1 FROM billing.payments')).rowCount).toBe(0);
    } finally {
      await runtime.end();
    }
  });

  it('a revert that the data forbids is refused with its own message, whichever tenants the rows belong to', async () => {
    const revert = () => revertLastMigration({ adminUrl: db.url, schema: BILLING_SCHEMA, migrations: BILLING_MIGRATIONS });
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    const forced = async () =>
      (await admin.query(`SELECT relforcerowsecurity AS f FROM pg_class WHERE oid = 'billing.payments'::regclass`)).rows[0].f as boolean;
    const [tenant, order, failed, retry] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    try {
      await admin.query('DELETE FROM billing.payments');
      await admin.query(
        `INSERT INTO billing.payments (id, tenant_id, order_id, amount, currency, method, status, attempt, retry_of, refund_required, refund_reason)
         VALUES ($1, $2, $3, 100, 'JPY', 'card', 'failed', 1, NULL, false, NULL),
                ($4, $2, $3, 100, 'JPY', 'card', 'confirmed', 2, $1, true, 'payment_superseded')`,
        [failed, tenant, order, retry],
      );
      // The dead letters and the Idempotency-Key migrations on top hold no rule about payments: they revert first.
      expect(await revert()).toBe('DeadLetters1797500000000');
      expect((await admin.query(`SELECT to_regclass('billing.dead_letters') AS t`)).rows[0].t).toBeNull();
      expect(await revert()).toBe('IdempotencyKeysPurge1797300000000');
      expect(await revert()).toBe('IdempotencyKeysTable1797200000000');
      await expect(revert()).rejects.toThrow(/1 payments are flagged payment_superseded/);
      expect(await forced()).toBe(true);
      await admin.query(`UPDATE billing.payments SET refund_required = false, refund_reason = NULL WHERE id = $1`, [retry]);
      expect(await revert()).toBe('RefundSuperseded1797000000000');
      expect(await revert()).toBe('OutboxRls1796600000000');
      await expect(revert()).rejects.toThrow(/1 retried payments exist/);
      expect(await forced()).toBe(true);
      await admin.query('DELETE FROM billing.payments');
      await migrate();
    } finally {
      await admin.end();
    }
  });
});
