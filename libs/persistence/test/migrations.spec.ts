import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import {
  createServiceDataSource,
  migrationCli,
  ownerRoleName,
  provisionService,
  revertLastMigration,
  runMigrations,
  resolveRuntimeDatabaseUrl,
  runtimeDatabaseUrl,
} from '../src';
import { errorOf, newTenant, uniqueSchema, withClient } from './fixtures/helpers';
import { Widget } from './fixtures/widget.entity';
import { widgetMigrations } from './fixtures/widget.migrations';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

async function tables(schema: string): Promise<Record<string, string>> {
  return withClient(db.url, async (c) => {
    const { rows } = await c.query<{ name: string; owner: string }>(
      `select c.relname as name, pg_get_userbyid(c.relowner) as owner from pg_class c
         join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relkind in ('r', 'S')
          and c.relname <> 'migrations_id_seq'`,
      [schema],
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.owner]));
  });
}

describe('runMigrations / revertLastMigration', () => {
  it('applies pending migrations as the owner role, keeps the history in <schema>.migrations, and reverts one at a time', async () => {
    const schema = uniqueSchema('svc');
    const migrations = widgetMigrations(schema);
    const owner = ownerRoleName(schema);

    const applied = await runMigrations({ adminUrl: db.url, schema, migrations, password: 'pw' });
    expect(applied).toEqual(['CreateWidgets1700000000000', 'AddWidgetCounter1700000000001']);
    expect(await tables(schema)).toEqual({ migrations: owner, widgets: owner, widget_counter: owner });
    expect(await tables('public')).toEqual({});

    // Idempotent: provisioning again and nothing pending.
    expect(await runMigrations({ adminUrl: db.url, schema, migrations, password: 'pw' })).toEqual([]);

    expect(await revertLastMigration({ adminUrl: db.url, schema, migrations })).toBe('AddWidgetCounter1700000000001');
    expect(Object.keys(await tables(schema)).sort()).toEqual(['migrations', 'widgets']);
    expect(await revertLastMigration({ adminUrl: db.url, schema, migrations })).toBe('CreateWidgets1700000000000');
    expect(Object.keys(await tables(schema))).toEqual(['migrations']);
    expect(await revertLastMigration({ adminUrl: db.url, schema, migrations })).toBeNull();

    // And forward again: the down migrations left a clean slate (policy and RLS removed with the table).
    expect(await runMigrations({ adminUrl: db.url, schema, migrations, password: 'pw' })).toHaveLength(2);
    const policies = await withClient(db.url, (c) =>
      c.query(`select policyname from pg_policies where schemaname = $1`, [schema]),
    );
    expect(policies.rows).toEqual([{ policyname: 'tenant_isolation' }]);
  });

  it('applies each migration once when two runners race on the same schema', async () => {
    const schema = uniqueSchema('svc');
    const migrations = widgetMigrations(schema);
    const results = await Promise.all(
      [1, 2].map(() => runMigrations({ adminUrl: db.url, schema, migrations, password: 'pw' })),
    );
    expect(results.map((r) => r.length).sort()).toEqual([0, 2]);
    const history = await withClient(db.url, (c) => c.query(`select count(*)::int as n from ${schema}.migrations`));
    expect(history.rows[0].n).toBe(2);
  });

  it('leaves the database unchanged when a migration fails', async () => {
    const schema = uniqueSchema('svc');
    const [create] = widgetMigrations(schema);
    class Broken1700000000009 {
      name = 'Broken1700000000009';
      async up(): Promise<void> {
        throw new Error('broken migration');
      }
      async down(): Promise<void> {
        return undefined;
      }
    }
    jest.spyOn(console, 'log').mockImplementation(() => undefined); // TypeORM reports the failure on stdout
    await expect(
      runMigrations({ adminUrl: db.url, schema, migrations: [create, Broken1700000000009], password: 'pw' }),
    ).rejects.toThrow('broken migration');
    expect(Object.keys(await tables(schema))).toEqual(['migrations']);
    jest.restoreAllMocks();
  });
});

describe('provisionService', () => {
  it('is idempotent, rotates the runtime password and derives the runtime URL', async () => {
    const schema = uniqueSchema('svc');
    await provisionService(db.url, { schema, password: 'first' });
    await provisionService(db.url, { schema, password: 'p@ss:w/rd?#' });
    const url = runtimeDatabaseUrl(db.url, schema, 'p@ss:w/rd?#');
    expect(new URL(url).username).toBe(`tessera_${schema}`);
    const who = await withClient(url, (c) => c.query(`select current_user as u, current_setting('search_path') as sp`));
    expect(who.rows[0]).toEqual({ u: `tessera_${schema}`, sp: schema });
    await expect(withClient(runtimeDatabaseUrl(db.url, schema, 'first'), (c) => c.query('select 1'))).rejects.toThrow(
      /password authentication failed/,
    );
  });

  it('repairs a runtime role that was given dangerous attributes', async () => {
    const schema = uniqueSchema('svc');
    await provisionService(db.url, { schema, password: 'pw' });
    await withClient(db.url, (c) => c.query(`alter role tessera_${schema} superuser bypassrls createrole`));
    await provisionService(db.url, { schema, password: 'pw' });
    const r = await withClient(db.url, (c) =>
      c.query(`select rolsuper, rolbypassrls, rolcreaterole from pg_roles where rolname = $1`, [`tessera_${schema}`]),
    );
    expect(r.rows[0]).toEqual({ rolsuper: false, rolbypassrls: false, rolcreaterole: false });
  });

  it('grants DML on existing extra schemas (present and future tables) and skips missing ones', async () => {
    const schema = uniqueSchema('svc');
    const shared = uniqueSchema('messaging');
    await withClient(db.url, async (c) => {
      await c.query(`create schema ${shared}`);
      await c.query(`create table ${shared}.log (seq bigserial primary key, body text)`);
    });
    await provisionService(db.url, { schema, password: 'pw', extraSchemas: [shared, uniqueSchema('absent')] });
    await withClient(db.url, (c) => c.query(`create table ${shared}.offsets (grp text primary key, pos bigint)`));
    await withClient(runtimeDatabaseUrl(db.url, schema, 'pw'), async (c) => {
      await c.query(`insert into ${shared}.log (body) values ('e1')`);
      await c.query(`insert into ${shared}.offsets values ('g', 1)`);
      const { rows } = await c.query(`select body from ${shared}.log`);
      expect(rows).toEqual([{ body: 'e1' }]);
      expect(await errorOf(c, `drop table ${shared}.log`)).toMatch(/must be owner/);
    });
  });

  it('refuses schema names that are not plain identifiers', async () => {
    await expect(provisionService(db.url, { schema: 'Bad-Name; drop', password: 'pw' })).rejects.toThrow(
      /invalid schema name/,
    );
  });
});

describe('createServiceDataSource', () => {
  it('binds every pooled connection to the schema and keeps synchronize and migrationsRun off', async () => {
    const schema = uniqueSchema('svc');
    await runMigrations({ adminUrl: db.url, schema, migrations: widgetMigrations(schema), password: 'pw' });
    const ds = createServiceDataSource({
      url: runtimeDatabaseUrl(db.url, schema, 'pw'),
      schema,
      entities: [Widget],
      poolSize: 3,
      applicationName: 'probe',
    });
    expect(ds.options).toMatchObject({ synchronize: false, migrationsRun: false, schema, migrationsTableName: 'migrations' });
    await ds.initialize();
    try {
      const seen = await Promise.all(
        [1, 2, 3].map(() =>
          ds.transaction((m) =>
            m.query(`select current_setting('search_path') as sp, current_setting('application_name') as app, pg_sleep(0.05)`),
          ),
        ),
      );
      expect(seen.map((r) => [r[0].sp, r[0].app])).toEqual([
        [schema, 'probe'],
        [schema, 'probe'],
        [schema, 'probe'],
      ]);
    } finally {
      await ds.destroy();
    }
    // The startup option alone does it, without the runtime role's own search_path setting.
    const admin = await createServiceDataSource({ url: db.url, schema, entities: [] }).initialize();
    try {
      expect(await admin.query(`select current_setting('search_path') as sp`)).toEqual([{ sp: schema }]);
    } finally {
      await admin.destroy();
    }
  });
});

describe('migrationCli', () => {
  const quiet = () => {
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  };
  afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = undefined;
  });

  it('runs and reverts from argv and the environment', async () => {
    quiet();
    const schema = uniqueSchema('svc');
    const config = { schema, migrations: widgetMigrations(schema) };
    const env = { DATABASE_URL: db.url, DB_APP_PASSWORD: 'cli-pw' };
    expect(await migrationCli(config, ['run'], env)).toBe(0);
    const tenant = newTenant();
    // The CLI sets the role's own password, derived from DB_APP_PASSWORD, which is what a service derives too.
    await withClient(resolveRuntimeDatabaseUrl(schema, env), async (c) => {
      await c.query('begin');
      await c.query(`select set_config('app.tenant_id', $1, true)`, [tenant]);
      await c.query(`insert into widgets (name) values ('via cli schema')`);
      await c.query('commit');
    });
    expect(await migrationCli(config, ['revert'], env)).toBe(0);
    expect(Object.keys(await tables(schema)).sort()).toEqual(['migrations', 'widgets']);
    expect(process.exitCode).toBeUndefined();
  });

  it('fails with exit code 1 naming the problem', async () => {
    quiet();
    const schema = uniqueSchema('svc');
    const config = { schema, migrations: widgetMigrations(schema) };
    expect(await migrationCli(config, ['run'], { DATABASE_URL: db.url })).toBe(1);
    expect(process.stderr.write).toHaveBeenCalledWith(expect.stringContaining('DB_APP_PASSWORD is not set'));
    expect(await migrationCli(config, ['sideways'], { DATABASE_URL: db.url })).toBe(1);
    expect(process.stderr.write).toHaveBeenCalledWith(expect.stringContaining('unknown command "sideways"'));
    expect(await migrationCli(config, ['run'], {})).toBe(1);
    expect(process.stderr.write).toHaveBeenCalledWith(expect.stringContaining('DATABASE_URL is not set'));
    expect(process.exitCode).toBe(1);
  });
});
