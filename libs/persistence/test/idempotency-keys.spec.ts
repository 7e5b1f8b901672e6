import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import {
  createIdempotencyKeysTable,
  createServiceDataSource,
  dropIdempotencyKeysTable,
  IdempotencyKeys,
  revertLastMigration,
  runMigrations,
  runtimeDatabaseUrl,
  TenantTransactions,
  type IdempotentResponse,
  type MigrationClass,
  type TenantTx,
} from '../src';
import { newTenant, uniqueSchema, withClient } from './fixtures/helpers';
import { widgetMigrations } from './fixtures/widget.migrations';

const PASSWORD = 'runtime-pw';
const schema = uniqueSchema('idem');

/** The short migration a service writes for the table. */
function idempotencyMigration(s: string): MigrationClass {
  return class IdempotencyKeys1700000000002 implements MigrationInterface {
    name = 'IdempotencyKeys1700000000002';
    async up(q: QueryRunner): Promise<void> {
      await createIdempotencyKeysTable(q, s);
    }
    async down(q: QueryRunner): Promise<void> {
      await dropIdempotencyKeysTable(q, s);
    }
  };
}

const migrations = [...widgetMigrations(schema), idempotencyMigration(schema)];

let db: TestDatabase;
let ds: DataSource;
let keys: IdempotencyKeys;

beforeAll(async () => {
  db = await createTestDatabase();
  await runMigrations({ adminUrl: db.url, schema, migrations, password: PASSWORD });
  ds = await createServiceDataSource({ url: runtimeDatabaseUrl(db.url, schema, PASSWORD), schema, entities: [], poolSize: 4 }).initialize();
  keys = new IdempotencyKeys(new TenantTransactions(ds));
});

afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

/** Work that creates one widget and answers 201 with it. */
function createWidget(name: string): (tx: TenantTx) => Promise<IdempotentResponse<{ id: string; name: string }>> {
  return async (tx) => {
    const [row]: { id: string }[] = await tx.manager.query(`INSERT INTO widgets (name) VALUES ($1) RETURNING id`, [name]);
    return { status: 201, body: { id: row.id, name } };
  };
}

const widgets = async (tenantId: string): Promise<number> =>
  withClient(db.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM ${schema}.widgets WHERE tenant_id = $1`, [tenantId])).rows[0].n);

const request = (key: string | undefined, body: unknown) => ({ key, operation: 'POST /v1/widgets', body });

describe('IdempotencyKeys (real PostgreSQL)', () => {
  it('creates its table with forced RLS and the tenant policy, and drops it on revert', async () => {
    const rls = await withClient(db.url, (c) =>
      c.query(
        `SELECT c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
                (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation') AS policies
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'idempotency_keys'`,
        [schema],
      ),
    );
    expect(rls.rows).toEqual([{ enabled: true, forced: true, policies: 1 }]);

    const other = uniqueSchema('idemrev');
    const otherMigrations = [...widgetMigrations(other), idempotencyMigration(other)];
    await runMigrations({ adminUrl: db.url, schema: other, migrations: otherMigrations, password: PASSWORD });
    expect(await revertLastMigration({ adminUrl: db.url, schema: other, migrations: otherMigrations })).toBe('IdempotencyKeys1700000000002');
    const left = await withClient(db.url, (c) => c.query(`SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'idempotency_keys'`, [other]));
    expect(left.rows).toHaveLength(0);
  });

  it('replays the first response for the same key and body, and does the work once', async () => {
    const tenant = newTenant();
    const first = await keys.perform(tenant, request('k-replay', { name: 'a', tags: ['x'] }), createWidget('a'));
    expect(first).toMatchObject({ kind: 'performed', status: 201 });
    const again = await keys.perform(tenant, request('k-replay', { tags: ['x'], name: 'a' }), createWidget('a'));
    expect(again).toEqual({ kind: 'replayed', status: 201, body: (first as { body: unknown }).body });
    expect(await widgets(tenant)).toBe(1);
  });

  it('refuses the key with another body, and does nothing', async () => {
    const tenant = newTenant();
    await keys.perform(tenant, request('k-other', { name: 'a' }), createWidget('a'));
    expect(await keys.perform(tenant, request('k-other', { name: 'b' }), createWidget('b'))).toEqual({ kind: 'key_reused' });
    expect(await keys.perform(tenant, { ...request('k-other', { name: 'a' }), operation: 'POST /v1/gadgets' }, createWidget('a'))).toEqual({
      kind: 'key_reused',
    });
    expect(await widgets(tenant)).toBe(1);
  });

  it('answers in_progress while the first request with the key is still running', async () => {
    const tenant = newTenant();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = keys.perform(tenant, request('k-running', { name: 'a' }), async (tx) => {
      await gate;
      return createWidget('a')(tx);
    });
    await waitForState(tenant, 'k-running', 'running');
    let ran = false;
    const second = await keys.perform(tenant, request('k-running', { name: 'a' }), async (tx) => {
      ran = true;
      return createWidget('a')(tx);
    });
    expect(second).toEqual({ kind: 'in_progress' });
    expect(ran).toBe(false);
    release();
    expect(await first).toMatchObject({ kind: 'performed' });
    expect(await widgets(tenant)).toBe(1);
  });

  it('lets a retry take over an abandoned key; the abandoned request can then neither commit nor release it', async () => {
    const tenant = newTenant();
    let resume!: () => void;
    const gate = new Promise<void>((resolve) => (resume = resolve));
    const stalled = keys.perform(tenant, request('k-abandoned', { name: 'a' }), async (tx) => {
      await gate;
      return createWidget('stalled')(tx);
    });
    await waitForState(tenant, 'k-abandoned', 'running');
    await withClient(db.url, (c) =>
      c.query(`UPDATE ${schema}.idempotency_keys SET locked_at = now() - interval '2 minutes' WHERE tenant_id = $1 AND key = 'k-abandoned'`, [tenant]),
    );

    const retry = await keys.perform(tenant, request('k-abandoned', { name: 'a' }), createWidget('retry'));
    expect(retry).toMatchObject({ kind: 'performed', body: { name: 'retry' } });

    // The stalled request wakes up: storing its response fails, so its widget is rolled back.
    resume();
    expect(await stalled).toEqual({ kind: 'in_progress' });
    expect(await widgets(tenant)).toBe(1);
    expect(await keys.perform(tenant, request('k-abandoned', { name: 'a' }), createWidget('again'))).toEqual({
      kind: 'replayed',
      status: 201,
      body: (retry as { body: unknown }).body,
    });
  });

  it('does not take over a running key that is not abandoned, nor one abandoned by another body', async () => {
    const tenant = newTenant();
    const claimed = await keys.claim(tenant, 'k-held', keys.fingerprint('POST /v1/widgets', { name: 'a' }));
    expect(claimed.kind).toBe('claimed');
    await withClient(db.url, (c) =>
      c.query(`UPDATE ${schema}.idempotency_keys SET locked_at = now() - interval '2 minutes' WHERE tenant_id = $1 AND key = 'k-held'`, [tenant]),
    );
    expect(await keys.perform(tenant, request('k-held', { name: 'b' }), createWidget('b'))).toEqual({ kind: 'key_reused' });
    expect(await widgets(tenant)).toBe(0);
  });

  it('releases the key when the work fails, so a corrected retry may use it', async () => {
    const tenant = newTenant();
    await expect(
      keys.perform(tenant, request('k-failed', { name: 'a' }), async (tx) => {
        await createWidget('a')(tx);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await widgets(tenant)).toBe(0);
    expect(await keys.perform(tenant, request('k-failed', { name: 'b' }), createWidget('b'))).toMatchObject({ kind: 'performed' });
  });

  it('forgets a key once it expires, and keeps keys at least 24 hours', async () => {
    const tenant = newTenant();
    await keys.perform(tenant, request('k-expiring', { name: 'a' }), createWidget('a'));
    const ttl = await withClient(db.url, (c) =>
      c.query(`SELECT extract(epoch FROM expires_at - created_at)::int AS s FROM ${schema}.idempotency_keys WHERE tenant_id = $1`, [tenant]),
    );
    expect(ttl.rows[0].s).toBeGreaterThanOrEqual(24 * 3600);
    await withClient(db.url, (c) => c.query(`UPDATE ${schema}.idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1`, [tenant]));
    expect(await keys.perform(tenant, request('k-expiring', { name: 'b' }), createWidget('b'))).toMatchObject({ kind: 'performed' });
    expect(await widgets(tenant)).toBe(2);
  });

  it('scopes keys to the tenant', async () => {
    const [a, b] = [newTenant(), newTenant()];
    await keys.perform(a, request('k-shared', { name: 'a' }), createWidget('a'));
    expect(await keys.perform(b, request('k-shared', { name: 'other' }), createWidget('other'))).toMatchObject({ kind: 'performed' });
    expect(await keys.perform(a, request('k-shared', { name: 'a' }), createWidget('a'))).toMatchObject({ kind: 'replayed' });
  });

  it('keeps what `stored` returns for replays, and runs without a key as plain work', async () => {
    const tenant = newTenant();
    const redact = (body: { id: string; name: string }) => ({ id: body.id, name: null, redacted: true });
    const first = await keys.perform(tenant, request('k-stored', { name: 'secret' }), createWidget('secret'), { stored: redact });
    expect(first).toMatchObject({ kind: 'performed', body: { name: 'secret' } });
    const again = await keys.perform(tenant, request('k-stored', { name: 'secret' }), createWidget('secret'), { stored: redact });
    expect(again).toMatchObject({ kind: 'replayed', body: { name: null, redacted: true } });

    expect(await keys.perform(tenant, request(undefined, {}), createWidget('plain'))).toMatchObject({ kind: 'performed' });
    expect(await keys.perform(tenant, request(undefined, {}), createWidget('plain'))).toMatchObject({ kind: 'performed' });
    expect(await widgets(tenant)).toBe(3);
  });

  it('keys fingerprints with a secret when given one', () => {
    const keyed = new IdempotencyKeys(new TenantTransactions(ds), { fingerprintSecret: Buffer.alloc(32, 7) });
    const body = { password: 'hunter22' };
    expect(keyed.fingerprint('POST /v1/users', body)).not.toBe(keys.fingerprint('POST /v1/users', body));
    expect(keyed.fingerprint('POST /v1/users', body)).toBe(keyed.fingerprint('POST /v1/users', { ...body }));
  });
});

async function waitForState(tenantId: string, key: string, state: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await withClient(db.url, (c) =>
      c.query(`SELECT state FROM ${schema}.idempotency_keys WHERE tenant_id = $1 AND key = $2`, [tenantId, key]),
    );
    if (rows[0]?.state === state) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`key ${key} never reached ${state}`);
}
