import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import type { DataSource } from 'typeorm';
import {
  createServiceDataSource,
  InvalidTenantIdError,
  ownerRoleName,
  runMigrations,
  runtimeDatabaseUrl,
  runtimeRoleName,
  TenantTransactions,
} from '../src';
import { errorOf, newTenant, uniqueSchema, withClient } from './fixtures/helpers';
import { Widget } from './fixtures/widget.entity';
import { widgetMigrations } from './fixtures/widget.migrations';

const PASSWORD = 'runtime-pw';
const alpha = uniqueSchema('alpha');
const beta = uniqueSchema('beta');
const tenantA = newTenant();
const tenantB = newTenant();

let db: TestDatabase;
let ds: DataSource;
let tenants: TenantTransactions;
let alphaUrl: string;

beforeAll(async () => {
  db = await createTestDatabase();
  for (const schema of [alpha, beta]) {
    await runMigrations({ adminUrl: db.url, schema, migrations: widgetMigrations(schema), password: PASSWORD });
  }
  alphaUrl = runtimeDatabaseUrl(db.url, alpha, PASSWORD);
  ds = await createServiceDataSource({ url: alphaUrl, schema: alpha, entities: [Widget], poolSize: 1 }).initialize();
  tenants = new TenantTransactions(ds);
  // Seed through the runtime role itself: each tenant writes its own rows.
  await tenants.run(tenantA, (tx) => tx.repo(Widget).save([{ tenantId: tenantA, name: 'a1' }, { tenantId: tenantA, name: 'a2' }]));
  await tenants.run(tenantB, (tx) => tx.repo(Widget).save([{ tenantId: tenantB, name: 'b1' }]));
  // And one row of tenant B in beta, to prove alpha cannot see it whatever the tenant.
  await withClient(db.url, (c) => c.query(`insert into ${beta}.widgets (tenant_id, name) values ($1, 'beta-b')`, [tenantB]));
});

afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

describe('row level security through TenantTransactions (runtime role)', () => {
  it('a query without a tenant filter returns only the current tenant rows', async () => {
    const seenByA = await tenants.run(tenantA, (tx) => tx.manager.query(`select name from widgets order by name`));
    const seenByB = await tenants.run(tenantB, (tx) => tx.repo(Widget).find({ order: { name: 'ASC' } }));
    expect(seenByA).toEqual([{ name: 'a1' }, { name: 'a2' }]);
    expect(seenByB.map((w) => [w.name, w.tenantId])).toEqual([['b1', tenantB]]);
    // The rows really are all in one table: the admin (superuser, bypasses RLS) sees three.
    const all = await withClient(db.url, (c) => c.query(`select count(*)::int as n from ${alpha}.widgets`));
    expect(all.rows[0].n).toBe(3);
  });

  it('refuses writing a row of another tenant inside a tenant transaction (WITH CHECK)', async () => {
    await expect(
      tenants.run(tenantA, (tx) => tx.repo(Widget).insert({ tenantId: tenantB, name: 'smuggled' })),
    ).rejects.toThrow(/row-level security/);
    await expect(
      tenants.run(tenantA, (tx) => tx.manager.query(`update widgets set tenant_id = $1`, [tenantB])),
    ).rejects.toThrow(/row-level security/);
    const bRows = await tenants.run(tenantB, (tx) => tx.repo(Widget).countBy({ name: 'smuggled' }));
    expect(bRows).toBe(0);
  });

  it('cannot touch another tenant rows by id: updates and deletes match nothing', async () => {
    const [b1] = await tenants.run(tenantB, (tx) => tx.repo(Widget).findBy({ name: 'b1' }));
    const result = await tenants.run(tenantA, (tx) => tx.repo(Widget).delete({ id: b1.id }));
    expect(result.affected).toBe(0);
    expect(await tenants.run(tenantB, (tx) => tx.repo(Widget).countBy({ id: b1.id }))).toBe(1);
  });

  it('fills tenant_id from the transaction when the code omits it', async () => {
    const saved = await tenants.run(tenantA, (tx) => tx.manager.query(`insert into widgets (name) values ('a3') returning tenant_id`));
    expect(saved).toEqual([{ tenant_id: tenantA }]);
    await tenants.run(tenantA, (tx) => tx.repo(Widget).delete({ name: 'a3' }));
  });

  it('shows nothing and accepts nothing when no tenant is set', async () => {
    const rows = await tenants.runWithoutTenant((m) => m.query(`select * from widgets`));
    expect(rows).toEqual([]);
    await expect(
      tenants.runWithoutTenant((m) => m.query(`insert into widgets (tenant_id, name) values ($1, 'x')`, [tenantA])),
    ).rejects.toThrow(/row-level security/);
    // Outside any helper too: a fresh runtime connection sees no rows.
    const fresh = await withClient(alphaUrl, (c) => c.query(`select count(*)::int as n from widgets`));
    expect(fresh.rows[0].n).toBe(0);
  });

  it('keeps the tenant transaction-local: the next transaction on the same pooled connection has none', async () => {
    const pidA = await tenants.run(tenantA, async (tx) => {
      const [{ n }] = await tx.manager.query(`select count(*)::int as n from widgets`);
      expect(n).toBe(2);
      return (await tx.manager.query(`select pg_backend_pid() as pid`))[0].pid;
    });
    const after = await ds.transaction(async (m) => ({
      pid: (await m.query(`select pg_backend_pid() as pid`))[0].pid,
      setting: (await m.query(`select current_setting('app.tenant_id', true) as t`))[0].t,
      rows: await m.query(`select * from widgets`),
    }));
    expect(after.pid).toBe(pidA); // poolSize 1: really the same connection
    expect(after.setting === '' || after.setting === null).toBe(true);
    expect(after.rows).toEqual([]);
  });

  it('rolls back the work and the tenant together when the callback throws', async () => {
    await expect(
      tenants.run(tenantA, async (tx) => {
        await tx.repo(Widget).insert({ tenantId: tenantA, name: 'doomed' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await tenants.run(tenantA, (tx) => tx.repo(Widget).countBy({ name: 'doomed' }))).toBe(0);
  });

  it('rejects a tenant id that is not a UUID before touching the database', async () => {
    for (const bad of ['', 'tenant-a', `${tenantA}'; drop table widgets; --`]) {
      await expect(tenants.run(bad, async () => 1)).rejects.toBeInstanceOf(InvalidTenantIdError);
    }
  });

  it('honours the requested isolation level', async () => {
    const level = await tenants.run(tenantA, (tx) => tx.manager.query(`show transaction_isolation`), {
      isolation: 'SERIALIZABLE',
    });
    expect(level).toEqual([{ transaction_isolation: 'serializable' }]);
  });
});

describe('the runtime role cannot bypass RLS or leave its schema', () => {
  it('is no superuser, has no BYPASSRLS and owns no table, so FORCE applies', async () => {
    await withClient(alphaUrl, async (c) => {
      const me = await c.query(
        `select current_user as me, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles where rolname = current_user`,
      );
      expect(me.rows[0]).toEqual({
        me: runtimeRoleName(alpha),
        rolsuper: false,
        rolbypassrls: false,
        rolcreaterole: false,
        rolcreatedb: false,
      });
      const t = await c.query(
        `select tableowner, rowsecurity, c.relforcerowsecurity as forced from pg_tables t
           join pg_class c on c.oid = (quote_ident(t.schemaname) || '.' || quote_ident(t.tablename))::regclass
          where schemaname = $1 and tablename = 'widgets'`,
        [alpha],
      );
      expect(t.rows[0]).toEqual({ tableowner: ownerRoleName(alpha), rowsecurity: true, forced: true });
      const member = await c.query(`select pg_has_role(current_user, $1, 'MEMBER') as m`, [ownerRoleName(alpha)]);
      expect(member.rows[0].m).toBe(false);
    });
  });

  it('cannot switch row security off or disable RLS on the table', async () => {
    await withClient(alphaUrl, async (c) => {
      await c.query(`set row_security = off`);
      expect(await errorOf(c, `select * from widgets`)).toMatch(/would be affected by row-level security/);
      await c.query(`reset row_security`);
      expect(await errorOf(c, `alter table widgets disable row level security`)).toMatch(/must be owner/);
      expect(await errorOf(c, `alter table widgets no force row level security`)).toMatch(/must be owner/);
      expect(await errorOf(c, `drop policy tenant_isolation on widgets`)).toMatch(/must be owner/);
      expect(await errorOf(c, `set role ${ownerRoleName(alpha)}`)).toMatch(/permission denied/);
      expect(await errorOf(c, `alter role current_user bypassrls`)).toMatch(/permission denied/);
    });
  });

  it('cannot read or write another service schema', async () => {
    await withClient(alphaUrl, async (c) => {
      expect(await errorOf(c, `select * from ${beta}.widgets`)).toMatch(/permission denied for schema/);
      expect(await errorOf(c, `insert into ${beta}.widgets (tenant_id, name) values ($1, 'x')`, [tenantB])).toMatch(
        /permission denied/,
      );
      expect(await errorOf(c, `set role ${runtimeRoleName(beta)}`)).toMatch(/permission denied/);
    });
    // Nor can beta's role read alpha's tables: the isolation is symmetric.
    await withClient(runtimeDatabaseUrl(db.url, beta, PASSWORD), async (c) => {
      expect(await errorOf(c, `select * from ${alpha}.widgets`)).toMatch(/permission denied for schema/);
    });
  });

  it('cannot create objects nor rewrite migration history', async () => {
    await withClient(alphaUrl, async (c) => {
      expect(await errorOf(c, `create table ${alpha}.evil (id int)`)).toMatch(/permission denied/);
      expect(await errorOf(c, `create table public.evil (id int)`)).toMatch(/permission denied/);
      expect(await errorOf(c, `delete from ${alpha}.migrations`)).toMatch(/permission denied/);
      // but it may use the schema's sequences (default privileges)
      const next = await c.query(`select nextval('widget_counter')::int as v`);
      expect(next.rows[0].v).toBe(1);
    });
  });
});
