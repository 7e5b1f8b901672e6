import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { DataSource } from 'typeorm';
import {
  DEFAULT_POOL_SIZE,
  pingDatabase,
  PersistenceModule,
  poolSizeFromEnv,
  resolveRuntimeDatabaseUrl,
  runtimeRolePassword,
  runMigrations,
  runtimeDatabaseUrl,
  TenantTransactions,
} from '../src';
import { newTenant, uniqueSchema } from './fixtures/helpers';
import { Widget } from './fixtures/widget.entity';
import { widgetMigrations } from './fixtures/widget.migrations';

const schema = uniqueSchema('nest');
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await runMigrations({ adminUrl: db.url, schema, migrations: widgetMigrations(schema), password: 'pw' });
});

afterAll(async () => {
  await db?.drop();
});

// A feature module that only imports nothing: PersistenceModule is global.
@Injectable()
class WidgetService {
  constructor(private readonly tenants: TenantTransactions) {}
  add(tenantId: string, name: string): Promise<Widget> {
    return this.tenants.run(tenantId, (tx) => tx.repo(Widget).save({ tenantId, name }));
  }
  list(tenantId: string): Promise<Widget[]> {
    return this.tenants.run(tenantId, (tx) => tx.repo(Widget).find());
  }
}

@Module({ providers: [WidgetService], exports: [WidgetService] })
class WidgetModule {}

describe('PersistenceModule', () => {
  it('provides an initialized runtime DataSource and TenantTransactions, and closes the pool on shutdown', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        PersistenceModule.forRoot({ schema, entities: [Widget], url: runtimeDatabaseUrl(db.url, schema, 'pw') }),
        WidgetModule,
      ],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    const ds = app.get(DataSource);
    expect(ds.isInitialized).toBe(true);
    expect(await ds.query(`select current_user as u`)).toEqual([{ u: `tessera_${schema}` }]);
    await expect(pingDatabase(ds)).resolves.toBeUndefined();

    const widgets = app.get(WidgetService);
    const [t1, t2] = [newTenant(), newTenant()];
    await widgets.add(t1, 'one');
    await widgets.add(t2, 'two');
    expect((await widgets.list(t1)).map((w) => w.name)).toEqual(['one']);

    await app.close();
    expect(ds.isInitialized).toBe(false);
    await expect(pingDatabase(ds)).rejects.toThrow(/not initialized/);
  });

  it('derives the runtime URL from the environment when none is given', async () => {
    const urlEnv = `TEST_${schema.toUpperCase()}_URL`;
    process.env[urlEnv] = runtimeDatabaseUrl(db.url, schema, 'pw');
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [PersistenceModule.forRoot({ schema, entities: [Widget], urlEnv })],
      }).compile();
      const ds = moduleRef.get(DataSource);
      expect(await ds.query(`select current_user as u`)).toEqual([{ u: `tessera_${schema}` }]);
      await moduleRef.close();
      expect(ds.isInitialized).toBe(false);
    } finally {
      delete process.env[urlEnv];
    }
  });

  it('sizes the pool from DATABASE_POOL_SIZE, and fails to start naming it when it is not a whole number', async () => {
    const url = runtimeDatabaseUrl(db.url, schema, 'pw');
    const poolMax = (ds: DataSource) => (ds.driver as unknown as { master: { options: { max: number } } }).master.options.max;
    const saved = process.env['DATABASE_POOL_SIZE'];
    try {
      delete process.env['DATABASE_POOL_SIZE'];
      let moduleRef = await Test.createTestingModule({ imports: [PersistenceModule.forRoot({ schema, entities: [Widget], url })] }).compile();
      expect(poolMax(moduleRef.get(DataSource))).toBe(DEFAULT_POOL_SIZE);
      await moduleRef.close();

      process.env['DATABASE_POOL_SIZE'] = '7';
      moduleRef = await Test.createTestingModule({ imports: [PersistenceModule.forRoot({ schema, entities: [Widget], url })] }).compile();
      expect(poolMax(moduleRef.get(DataSource))).toBe(7);
      await moduleRef.close();

      // A size the service sets itself wins over the environment.
      moduleRef = await Test.createTestingModule({
        imports: [PersistenceModule.forRoot({ schema, entities: [Widget], url, poolSize: 3 })],
      }).compile();
      expect(poolMax(moduleRef.get(DataSource))).toBe(3);
      await moduleRef.close();

      process.env['DATABASE_POOL_SIZE'] = 'ten';
      await expect(
        Test.createTestingModule({ imports: [PersistenceModule.forRoot({ schema, entities: [Widget], url })] }).compile(),
      ).rejects.toThrow(/DATABASE_POOL_SIZE must be a whole number from 3 to 1000, got "ten"/);
    } finally {
      if (saved === undefined) delete process.env['DATABASE_POOL_SIZE'];
      else process.env['DATABASE_POOL_SIZE'] = saved;
    }
  });

  it('fails to start naming the variables when no URL can be found', async () => {
    const builder = Test.createTestingModule({
      imports: [PersistenceModule.forRoot({ schema: 'nowhere', entities: [Widget], urlEnv: 'NOWHERE_URL_UNSET' })],
    });
    const saved = { DATABASE_URL: process.env['DATABASE_URL'], DB_APP_PASSWORD: process.env['DB_APP_PASSWORD'] };
    delete process.env['DATABASE_URL'];
    delete process.env['DB_APP_PASSWORD'];
    try {
      await expect(builder.compile()).rejects.toThrow(/NOWHERE_URL_UNSET is not set/);
    } finally {
      Object.assign(process.env, Object.fromEntries(Object.entries(saved).filter(([, v]) => v !== undefined)));
    }
  });
});

describe('pingDatabase', () => {
  it('rejects when the server does not answer', async () => {
    const ds = new DataSource({ type: 'postgres', url: runtimeDatabaseUrl(db.url, schema, 'pw'), poolSize: 1 });
    await ds.initialize();
    try {
      // The pool's only connection is busy sleeping, so select 1 cannot be answered in time.
      await expect(
        Promise.all([ds.query(`select pg_sleep(0.5)`), pingDatabase(ds, 100)]),
      ).rejects.toThrow(/no answer within 100 ms/);
    } finally {
      await ds.destroy();
    }
  });
});

describe('poolSizeFromEnv', () => {
  it('defaults when unset or blank, takes whole numbers from 3 (relay session, a consumer, a request) to 1000, and refuses anything else', () => {
    expect(poolSizeFromEnv({})).toBe(DEFAULT_POOL_SIZE);
    expect(poolSizeFromEnv({ DATABASE_POOL_SIZE: ' ' })).toBe(DEFAULT_POOL_SIZE);
    expect(poolSizeFromEnv({ DATABASE_POOL_SIZE: '3' })).toBe(3);
    expect(poolSizeFromEnv({ DATABASE_POOL_SIZE: '1000' })).toBe(1000);
    for (const bad of ['0', '1', '2', '-5', '2.5', '1001', '12abc', 'NaN']) {
      expect(() => poolSizeFromEnv({ DATABASE_POOL_SIZE: bad })).toThrow(/^DATABASE_POOL_SIZE must be a whole number/);
    }
  });
});

describe('resolveRuntimeDatabaseUrl', () => {
  it('prefers <SCHEMA>_DATABASE_URL, else derives from DATABASE_URL and DB_APP_PASSWORD', () => {
    expect(resolveRuntimeDatabaseUrl('identity', { IDENTITY_DATABASE_URL: 'postgres://x@h/db' })).toBe(
      'postgres://x@h/db',
    );
    const derived = new URL(
      resolveRuntimeDatabaseUrl('identity', { DATABASE_URL: 'postgres://postgres:pg@127.0.0.1:5432/tessera', DB_APP_PASSWORD: 's3:cr@t' }),
    );
    // The role's own password, derived from DB_APP_PASSWORD: not DB_APP_PASSWORD itself, and another role's differs.
    expect(runtimeRolePassword('s3:cr@t', 'identity')).not.toBe(runtimeRolePassword('s3:cr@t', 'orders'));
    expect([derived.username, decodeURIComponent(derived.password), derived.host, derived.pathname]).toEqual([
      'tessera_identity',
      runtimeRolePassword('s3:cr@t', 'identity'),
      '127.0.0.1:5432',
      '/tessera',
    ]);
    expect(() => resolveRuntimeDatabaseUrl('identity', { DATABASE_URL: 'postgres://h/db' })).toThrow(
      'IDENTITY_DATABASE_URL is not set, and DATABASE_URL with DB_APP_PASSWORD is not set to derive it',
    );
  });
});
