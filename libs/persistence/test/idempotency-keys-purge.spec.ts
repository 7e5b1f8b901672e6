import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { DataSource } from 'typeorm';
import {
  createServiceDataSource,
  IdempotencyKeysPurger,
  idempotencyKeysPurgeMigration,
  idempotencyKeysTableMigration,
  ownerRoleName,
  PersistenceModule,
  revertLastMigration,
  runMigrations,
  runtimeDatabaseUrl,
  runtimeRoleName,
  TenantTransactions,
  type MigrationClass,
} from '../src';
import { errorOf, newTenant, uniqueSchema, withClient } from './fixtures/helpers';
import { widgetMigrations } from './fixtures/widget.migrations';

const PASSWORD = 'runtime-pw';
const schema = uniqueSchema('purge');

/** The two migrations a service lists: the table, then its purge. */
const idempotencyMigrations = (s: string): MigrationClass[] => [
  idempotencyKeysTableMigration(s, 1700000000002),
  idempotencyKeysPurgeMigration(s, 1700000000003),
];

const migrationsOf = (s: string) => [...widgetMigrations(s), ...idempotencyMigrations(s)];

let db: TestDatabase;
let ds: DataSource;
let tenants: TenantTransactions;

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

beforeEach(async () => {
  await admin(`DELETE FROM ${schema}.idempotency_keys`);
});

const admin = (sql: string, params?: unknown[]) => withClient(db.url, (c) => c.query(sql, params));

/** Inserts keys as the admin (bypassing RLS): `expired` ones expired a minute ago, the others live for a day. */
async function seed(tenantId: string, expired: number, live: number): Promise<void> {
  await admin(
    `INSERT INTO ${schema}.idempotency_keys (tenant_id, key, request_hash, state, claim, response_status, response_body, expires_at)
     SELECT $1::uuid, 'k-' || i, 'h', 'done', gen_random_uuid(), 201, '{}'::jsonb,
            CASE WHEN i <= $2::int THEN now() - interval '1 minute' ELSE now() + interval '1 day' END
     FROM generate_series(1, $2::int + $3::int) AS i`,
    [tenantId, expired, live],
  );
}

/** Every key left, as `<tenant>:<expired|live>` counts. */
async function left(): Promise<Record<string, number>> {
  const { rows } = await admin(
    `SELECT tenant_id || ':' || CASE WHEN expires_at < now() THEN 'expired' ELSE 'live' END AS k, count(*)::int AS n
     FROM ${schema}.idempotency_keys GROUP BY 1`,
  );
  return Object.fromEntries(rows.map((r: { k: string; n: number }) => [r.k, r.n]));
}

const purgeAsRuntime = async (limit: number): Promise<number> =>
  ((await ds.query(`SELECT ${schema}.purge_expired_idempotency_keys($1) AS n`, [limit])) as { n: number }[])[0].n;

describe('purge of expired Idempotency-Keys (real PostgreSQL)', () => {
  it('deletes the expired keys of every tenant through the function, called by the runtime role, and keeps live ones', async () => {
    const [a, b] = [newTenant(), newTenant()];
    await seed(a, 3, 2);
    await seed(b, 4, 1);
    expect(await purgeAsRuntime(1000)).toBe(7);
    expect(await left()).toEqual({ [`${a}:live`]: 2, [`${b}:live`]: 1 });
    expect(await purgeAsRuntime(1000)).toBe(0);
  });

  it('deletes at most the limit, oldest first', async () => {
    const [a, b] = [newTenant(), newTenant()];
    await seed(a, 3, 1);
    await seed(b, 2, 0);
    await admin(`UPDATE ${schema}.idempotency_keys SET expires_at = now() - interval '1 hour' WHERE tenant_id = $1 AND key IN ('k-1', 'k-2')`, [b]);
    expect(await purgeAsRuntime(2)).toBe(2);
    expect(await left()).toEqual({ [`${a}:expired`]: 3, [`${a}:live`]: 1 });
    expect(await purgeAsRuntime(2)).toBe(2);
    expect(await purgeAsRuntime(2)).toBe(1);
    expect(await left()).toEqual({ [`${a}:live`]: 1 });
    // NULL would be LIMIT NULL, i.e. no limit: the function is STRICT and deletes nothing instead.
    await seed(b, 1, 0);
    expect((await ds.query(`SELECT ${schema}.purge_expired_idempotency_keys(NULL) AS n`))[0].n).toBeNull();
    expect(await left()).toEqual({ [`${a}:live`]: 1, [`${b}:expired`]: 1 });
  });

  it('called inside a tenant transaction, still deletes only expired keys', async () => {
    const [a, b] = [newTenant(), newTenant()];
    await seed(a, 1, 2);
    await seed(b, 1, 1);
    const n = await tenants.run(a, async (tx) => (await tx.manager.query(`SELECT purge_expired_idempotency_keys(1000) AS n`))[0].n);
    expect(n).toBe(2);
    expect(await left()).toEqual({ [`${a}:live`]: 2, [`${b}:live`]: 1 });
  });

  it('gives the runtime role no cross-tenant read or delete of its own, expired rows included', async () => {
    const [a, b] = [newTenant(), newTenant()];
    await seed(a, 1, 1);
    await seed(b, 2, 1);
    const seen = await tenants.run(a, (tx) => tx.manager.query(`SELECT tenant_id AS t, key FROM idempotency_keys ORDER BY key`));
    expect(seen).toEqual([
      { t: a, key: 'k-1' },
      { t: a, key: 'k-2' },
    ]);
    const expiredOfB = await tenants.run(a, (tx) => tx.manager.query(`SELECT key FROM idempotency_keys WHERE tenant_id = $1`, [b]));
    expect(expiredOfB).toEqual([]);
    const deleted = await tenants.run(a, async (tx) => {
      const [, count] = (await tx.manager.query(`DELETE FROM idempotency_keys WHERE tenant_id = $1 AND expires_at < now()`, [b])) as [unknown, number];
      return count;
    });
    expect(deleted).toBe(0);
    // Without a tenant the runtime role sees nothing at all, expired or not.
    expect(await tenants.runWithoutTenant((m) => m.query(`SELECT key FROM idempotency_keys`))).toEqual([]);
    expect(await tenants.runWithoutTenant(async (m) => ((await m.query(`DELETE FROM idempotency_keys WHERE expires_at < now()`)) as [unknown, number])[1])).toBe(0);
    expect(await left()).toEqual({ [`${a}:expired`]: 1, [`${a}:live`]: 1, [`${b}:expired`]: 2, [`${b}:live`]: 1 });
  });

  it('is a SECURITY DEFINER function of the schema owner with a fixed search_path, executable by the runtime role only', async () => {
    const fn = `${schema}.purge_expired_idempotency_keys(integer)`;
    const { rows } = await admin(
      `SELECT pg_get_userbyid(p.proowner) AS owner, p.prosecdef AS definer, p.provolatile AS volatility, p.proconfig AS config,
              has_function_privilege($2, $1::regprocedure, 'EXECUTE') AS runtime,
              (SELECT count(*)::int FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS public_grants
       FROM pg_proc p WHERE p.oid = $1::regprocedure`,
      [fn, runtimeRoleName(schema)],
    );
    expect(rows).toEqual([
      { owner: ownerRoleName(schema), definer: true, volatility: 'v', config: [`search_path=${schema}, pg_temp`], runtime: true, public_grants: 0 },
    ]);
    // Another role (here: another service's runtime role would be one) may not call it.
    const stranger = uniqueSchema('stranger');
    await admin(`CREATE ROLE ${stranger} LOGIN PASSWORD 'pw'`);
    try {
      await admin(`GRANT USAGE ON SCHEMA ${schema} TO ${stranger}`);
      const url = new URL(db.url);
      url.username = stranger;
      url.password = 'pw';
      expect(await withClient(url.toString(), (c) => errorOf(c, `SELECT ${schema}.purge_expired_idempotency_keys(1)`))).toMatch(/permission denied for function/);
    } finally {
      await admin(`REVOKE USAGE ON SCHEMA ${schema} FROM ${stranger}`);
      await admin(`DROP ROLE ${stranger}`);
    }
  });

  it('reverts exactly: the function and the owner-only policies go, the table and its tenant policy stay', async () => {
    const other = uniqueSchema('purgerev');
    const migrations = migrationsOf(other);
    const state = async () =>
      (
        await admin(
          `SELECT (SELECT array_agg(polname::text ORDER BY polname) FROM pg_policy WHERE polrelid = to_regclass($1)) AS policies,
                  to_regprocedure($2) IS NOT NULL AS fn`,
          [`${other}.idempotency_keys`, `${other}.purge_expired_idempotency_keys(integer)`],
        )
      ).rows[0];
    await runMigrations({ adminUrl: db.url, schema: other, migrations, password: PASSWORD });
    const applied = await state();
    expect(applied).toEqual({ policies: ['purge_expired_delete', 'purge_expired_select', 'tenant_isolation'], fn: true });
    expect(await revertLastMigration({ adminUrl: db.url, schema: other, migrations })).toBe('IdempotencyKeysPurge1700000000003');
    expect(await state()).toEqual({ policies: ['tenant_isolation'], fn: false });
    expect(await runMigrations({ adminUrl: db.url, schema: other, migrations, password: PASSWORD })).toEqual(['IdempotencyKeysPurge1700000000003']);
    expect(await state()).toEqual(applied);
  });
});

describe('IdempotencyKeysPurger', () => {
  it('purges in batches until a batch comes back short', async () => {
    const [a, b] = [newTenant(), newTenant()];
    await seed(a, 5, 1);
    await seed(b, 2, 0);
    const purger = new IdempotencyKeysPurger(ds, schema, { batchSize: 3 });
    const calls = jest.spyOn(ds, 'query');
    try {
      expect(await purger.purge()).toBe(7);
      expect(calls).toHaveBeenCalledTimes(3);
    } finally {
      calls.mockRestore();
    }
    expect(await left()).toEqual({ [`${a}:live`]: 1 });
  });

  it('runs in the background, logs a failure and retries it on the next run, and stops cleanly', async () => {
    const tenant = newTenant();
    await seed(tenant, 2, 1);
    const logged: string[] = [];
    const info = jest.spyOn(Logger.prototype, 'log').mockImplementation((message: unknown) => void logged.push(String(message)));
    const purger = new IdempotencyKeysPurger(ds, schema, { firstDelayMs: 0, intervalMs: 20 });
    purger.start();
    try {
      await waitFor(async () => (await left())[`${tenant}:expired`] === undefined);
      await seed(newTenant(), 1, 0);
      await waitFor(async () => Object.keys(await left()).length === 1);
    } finally {
      await purger.stop();
      info.mockRestore();
    }
    expect(await left()).toEqual({ [`${tenant}:live`]: 1 });
    expect(logged).toEqual(['purged 2 expired idempotency keys', 'purged 1 expired idempotency keys']);

    // A schema without the function: every run fails, is logged, and the timer goes on.
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const broken = new IdempotencyKeysPurger(ds, uniqueSchema('nothing'), { firstDelayMs: 0, intervalMs: 10 });
    broken.start();
    try {
      await waitFor(async () => warn.mock.calls.length >= 2);
      expect(String(warn.mock.calls[0][0])).toMatch(/purging expired idempotency keys failed .*does not exist/);
    } finally {
      await broken.stop();
      warn.mockRestore();
    }
  });

  it('is started and stopped by PersistenceModule with purgeIdempotencyKeys, before the pool closes', async () => {
    const tenant = newTenant();
    await seed(tenant, 2, 1);
    const info = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const moduleRef = await Test.createTestingModule({
      imports: [
        PersistenceModule.forRoot({
          schema,
          entities: [],
          url: runtimeDatabaseUrl(db.url, schema, PASSWORD),
          purgeIdempotencyKeys: { firstDelayMs: 0, intervalMs: 20 },
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    const purger = app.get(IdempotencyKeysPurger);
    const moduleDs = app.get(DataSource);
    await waitFor(async () => (await left())[`${tenant}:expired`] === undefined);
    const stopped: boolean[] = [];
    const stop = purger.stop.bind(purger);
    jest.spyOn(purger, 'stop').mockImplementation(async () => {
      stopped.push(moduleDs.isInitialized);
      await stop();
    });
    await app.close();
    info.mockRestore();
    expect(stopped).toEqual([true]);
    expect(moduleDs.isInitialized).toBe(false);

    const without = await Test.createTestingModule({
      imports: [PersistenceModule.forRoot({ schema, entities: [], url: runtimeDatabaseUrl(db.url, schema, PASSWORD) })],
    }).compile();
    expect(() => without.get(IdempotencyKeysPurger)).toThrow();
    await without.close();
  });
});

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition never became true');
}
