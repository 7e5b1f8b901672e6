import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import type { PoolClient } from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import {
  connectionOf,
  createServiceDataSource,
  inTransaction,
  InvalidTenantIdError,
  POOL_IDLE_TIMEOUT_MS,
  PreparedQuery,
  runMigrations,
  runtimeDatabaseUrl,
  sendWithoutWaiting,
  TenantTransactions,
  TransactionAbortedError,
  TransactionEndedError,
} from '../src';
import { newTenant, uniqueSchema } from './fixtures/helpers';
import { Widget } from './fixtures/widget.entity';
import { widgetMigrations } from './fixtures/widget.migrations';

const PASSWORD = 'runtime-pw';
const schema = uniqueSchema('pipelined');
const tenant = newTenant();

let db: TestDatabase;
let ds: DataSource;
let tenants: TenantTransactions;

beforeAll(async () => {
  db = await createTestDatabase();
  await runMigrations({ adminUrl: db.url, schema, migrations: widgetMigrations(schema), password: PASSWORD });
  ds = await createServiceDataSource({ url: runtimeDatabaseUrl(db.url, schema, PASSWORD), schema, entities: [Widget], poolSize: 2 }).initialize();
  tenants = new TenantTransactions(ds);
});

afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

const INSERT = new PreparedQuery<{ name: string }>(`INSERT INTO widgets (tenant_id, name) VALUES ($1, $2) RETURNING name`);

/** An insert sent without waiting for its answer, as the outbox writer sends its rows. */
async function insertWithoutWaiting(manager: EntityManager, tenantId: string, name: string): Promise<void> {
  const client = await connectionOf(manager);
  await sendWithoutWaiting(manager, client, INSERT.run(client, [tenantId, name]));
}

const names = async (prefix: string): Promise<string[]> =>
  (await tenants.run(tenant, (tx) => tx.manager.query(`SELECT name FROM widgets WHERE name LIKE $1 ORDER BY name`, [`${prefix}%`]))).map(
    (r: { name: string }) => r.name,
  );

describe('pipelined transactions', () => {
  it('service pools are pipelined', async () => {
    const client = await tenants.run(tenant, async (tx) => connectionOf(tx.manager));
    expect((client as PoolClient & { pipeline?: boolean }).pipeline).toBe(true);
  });

  it('service pools keep idle connections for minutes, not node-postgres\' 10 s', async () => {
    // The pool is the driver's `master`; a burst's connections closed after 10 s idle were reopened all at once.
    const pool = (ds.driver as unknown as { master: { options: { idleTimeoutMillis?: number } } }).master;
    expect(pool.options.idleTimeoutMillis).toBe(POOL_IDLE_TIMEOUT_MS);
    expect(POOL_IDLE_TIMEOUT_MS).toBeGreaterThanOrEqual(60_000);
  });

  it('opens the transaction with its tenant and isolation level; neither outlives it', async () => {
    const seen = await tenants.run(
      tenant,
      async (tx) => {
        const [row] = await tx.manager.query(
          `SELECT current_setting('app.tenant_id', true) AS tenant, current_setting('transaction_isolation') AS isolation, now() = statement_timestamp() AS single`,
        );
        return row as { tenant: string; isolation: string };
      },
      { isolation: 'SERIALIZABLE' },
    );
    expect(seen).toMatchObject({ tenant, isolation: 'serializable' });
    const after: { tenant: string | null }[] = await ds.query(`SELECT nullif(current_setting('app.tenant_id', true), '') AS tenant`);
    expect(after[0].tenant).toBeNull();
  });

  it('sends other settings with BEGIN for the transaction only, and refuses names or values it could not quote', async () => {
    const seen = await inTransaction(ds, (m) => m.query(`SELECT current_setting('tessera.probe', true) AS v`), { settings: { 'tessera.probe': 'on' } });
    expect(seen).toEqual([{ v: 'on' }]);
    expect(await ds.query(`SELECT nullif(current_setting('tessera.probe', true), '') AS v`)).toEqual([{ v: null }]);
    await expect(inTransaction(ds, async () => 1, { settings: { "tessera.x'; DROP TABLE widgets; --": 'on' } })).rejects.toThrow(/refused setting/);
    await expect(inTransaction(ds, async () => 1, { settings: { 'tessera.x': "on'" } })).rejects.toThrow(/refused setting/);
  });

  it('commits statements sent without waiting together with the COMMIT that follows them', async () => {
    await tenants.run(tenant, async (tx) => {
      await insertWithoutWaiting(tx.manager, tenant, 'sent-1');
      await insertWithoutWaiting(tx.manager, tenant, 'sent-2');
    });
    expect(await names('sent-')).toEqual(['sent-1', 'sent-2']);
  });

  it('a failing statement sent last fails the commit with its own error, and nothing of the transaction stays', async () => {
    const failure = tenants.run(tenant, async (tx) => {
      await INSERT.rows(tx.manager, [tenant, 'last-ok']);
      // Another tenant's row: refused by the RLS policy's WITH CHECK, an error only the answer carries.
      await insertWithoutWaiting(tx.manager, newTenant(), 'last-refused');
    });
    await expect(failure).rejects.toThrow(/row-level security/);
    expect(await names('last-')).toEqual([]);
  });

  it('a statement failing in the middle is reported instead of the "transaction is aborted" error of the next one', async () => {
    const failure = tenants.run(tenant, async (tx) => {
      await insertWithoutWaiting(tx.manager, newTenant(), 'mid-refused');
      await INSERT.rows(tx.manager, [tenant, 'mid-after']);
    });
    await expect(failure).rejects.toThrow(/row-level security/);
    expect(await names('mid-')).toEqual([]);
  });

  it('refuses to report a commit when a failed statement\'s error was caught inside the transaction', async () => {
    // PostgreSQL answers COMMIT in a failed transaction with a rollback and no error: without the check, the work
    // would look committed.
    const caught = tenants.run(tenant, async (tx) => {
      await INSERT.rows(tx.manager, [tenant, 'caught-before']);
      await tx.manager.query(`SELECT 1 / 0`).catch(() => undefined);
      return 'done';
    });
    await expect(caught).rejects.toBeInstanceOf(TransactionAbortedError);
    // A statement sent without waiting after the failure only says the transaction was aborted: same error.
    const thenSent = tenants.run(tenant, async (tx) => {
      await tx.manager.query(`SELECT 1 / 0`).catch(() => undefined);
      await insertWithoutWaiting(tx.manager, tenant, 'caught-after');
    });
    await expect(thenSent).rejects.toBeInstanceOf(TransactionAbortedError);
    expect(await names('caught-')).toEqual([]);
    // The connections went back to the pool usable (two in the pool).
    for (let i = 0; i < 3; i++) await tenants.run(tenant, (tx) => INSERT.rows(tx.manager, [tenant, `caught-ok-${i}`]));
    expect(await names('caught-')).toEqual(['caught-ok-0', 'caught-ok-1', 'caught-ok-2']);
  });

  it('commits when a failed statement was undone by its savepoint (a nested transaction)', async () => {
    await tenants.run(tenant, async (tx) => {
      await INSERT.rows(tx.manager, [tenant, 'sp-outer']);
      await expect(tx.manager.transaction((inner) => inner.query(`SELECT 1 / 0`))).rejects.toThrow(/division by zero/);
      await INSERT.rows(tx.manager, [tenant, 'sp-after']);
    });
    expect(await names('sp-')).toEqual(['sp-after', 'sp-outer']);
  });

  it('keeps nested transactions (savepoints) working inside', async () => {
    await tenants.run(tenant, async (tx) => {
      await INSERT.rows(tx.manager, [tenant, 'nest-outer']);
      await expect(
        tx.manager.transaction(async (inner) => {
          await inner.query(`INSERT INTO widgets (tenant_id, name) VALUES ($1, 'nest-inner')`, [tenant]);
          throw new Error('undo the inner part');
        }),
      ).rejects.toThrow('undo the inner part');
    });
    expect(await names('nest-')).toEqual(['nest-outer']);
  });

  it('refuses statements a branch sends after the work settled, instead of running them outside the transaction', async () => {
    // After the current turn of the event loop: while the COMMIT or ROLLBACK is on its way, before the runner is released.
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
    const lateStatements = (manager: EntityManager) =>
      Promise.allSettled([
        manager.query(`SELECT set_config('app.tenant_id', $1, false)`, [newTenant()]),
        INSERT.rows(manager, [tenant, 'late']),
      ]);
    const refused = (outcomes: PromiseSettledResult<unknown>[]) => {
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        const reason = (outcome as PromiseRejectedResult).reason;
        // Sealed, or (should the turn come after the release) refused by TypeORM: never sent either way.
        expect(reason instanceof TransactionEndedError || (reason as Error).name === 'QueryRunnerProviderAlreadyReleasedError').toBe(true);
      }
    };
    // The work fails while another branch still runs: its statements would follow the ROLLBACK.
    let afterRollback: Promise<PromiseSettledResult<unknown>[]> = Promise.resolve([]);
    await expect(
      tenants.run(tenant, async (tx) => {
        afterRollback = nextTurn().then(() => lateStatements(tx.manager));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    refused(await afterRollback);
    // The work returns without waiting for a branch: its statements would follow the COMMIT.
    let afterCommit: Promise<PromiseSettledResult<unknown>[]> = Promise.resolve([]);
    await tenants.run(tenant, async (tx) => {
      afterCommit = nextTurn().then(() => lateStatements(tx.manager));
    });
    refused(await afterCommit);
    expect(await names('late')).toEqual([]);
    // No pooled session was left with a session-wide tenant.
    for (let i = 0; i < 3; i++) {
      const [row] = await ds.query(`SELECT nullif(current_setting('app.tenant_id', true), '') AS tenant`);
      expect(row.tenant).toBeNull();
    }
  });

  it('rolls back everything when the work returns while a branch it did not await is inside a nested transaction', async () => {
    let inner: Promise<unknown> = Promise.resolve();
    let entered!: () => void;
    const nested = new Promise<void>((resolve) => (entered = resolve));
    const outcome = tenants.run(tenant, async (tx) => {
      await INSERT.rows(tx.manager, [tenant, 'nested-outer']);
      inner = tx.manager.transaction(async (m) => {
        entered();
        await m.query(`INSERT INTO widgets (tenant_id, name) VALUES ($1, 'nested-inner')`, [tenant]);
        await new Promise((r) => setTimeout(r, 100));
      });
      inner.catch(() => undefined);
      await nested; // the savepoint is open: return now, without waiting for it
    });
    await expect(outcome).rejects.toBeInstanceOf(TransactionEndedError);
    await inner.catch(() => undefined);
    expect(await names('nested-')).toEqual([]);
    // Every pooled connection is out of any transaction and has no tenant left (the pool has two).
    for (let i = 0; i < 4; i++) {
      // In autocommit a statement's transaction starts with it; in a leaked transaction now() is that one's start.
      const rows = await ds.query(`SELECT nullif(current_setting('app.tenant_id', true), '') AS tenant, now() = statement_timestamp() AS fresh`);
      expect(rows[0]).toEqual({ tenant: null, fresh: true });
    }
  });

  it('refuses a tenant id that is not a UUID before touching the database, and returns connections to the pool', async () => {
    await expect(tenants.run("x'; DROP TABLE widgets; --", async () => 1)).rejects.toBeInstanceOf(InvalidTenantIdError);
    await expect(inTransaction(ds, async () => 1, { tenantId: 'not-a-uuid' })).rejects.toBeInstanceOf(InvalidTenantIdError);
    // Two connections in the pool: more transactions than that in a row would hang if one had leaked.
    for (let i = 0; i < 5; i++) expect(await tenants.run(tenant, async () => i)).toBe(i);
  });

  it('works the same on a pool without pipeline mode (each statement awaited)', async () => {
    const plain = await new DataSource({
      type: 'postgres',
      url: runtimeDatabaseUrl(db.url, schema, PASSWORD),
      extra: { options: `-c search_path=${schema}` },
    }).initialize();
    try {
      const t = new TenantTransactions(plain);
      await t.run(tenant, async (tx) => {
        expect((await connectionOf(tx.manager) as PoolClient & { pipeline?: boolean }).pipeline).toBe(false);
        await insertWithoutWaiting(tx.manager, tenant, 'plain-1');
      });
      await expect(t.run(tenant, (tx) => insertWithoutWaiting(tx.manager, newTenant(), 'plain-refused'))).rejects.toThrow(/row-level security/);
      const caught = t.run(tenant, async (tx) => {
        await insertWithoutWaiting(tx.manager, tenant, 'plain-caught');
        await tx.manager.query(`SELECT 1 / 0`).catch(() => undefined);
      });
      await expect(caught).rejects.toBeInstanceOf(TransactionAbortedError);
    } finally {
      await plain.destroy();
    }
    expect(await names('plain-')).toEqual(['plain-1']);
  });
});
