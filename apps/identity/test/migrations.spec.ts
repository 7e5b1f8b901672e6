import { randomUUID } from 'node:crypto';
import { revertLastMigration, runMigrations } from '@tessera/persistence';
import { createTestDatabase, OUTBOX_RLS_OFF, OUTBOX_RLS_ON, OUTBOX_RLS_SQL, type TestDatabase } from '@tessera/testing';
import { Client } from 'pg';
import { IDENTITY_ENTITIES, IDENTITY_SCHEMA } from '../src/entities';
import { IDENTITY_MIGRATIONS } from '../src/migrations';

const PASSWORD = 'identity-tests-runtime-password';

describe('identity migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('identity_mig');
  });
  afterAll(async () => {
    await db.drop();
  });

  const tables = async (): Promise<string[]> => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query(
        `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY c.relname`,
        [IDENTITY_SCHEMA],
      );
      for (const r of rows) {
        if (['migrations', 'outbox_events', 'processed_events'].includes(r.relname)) continue;
        // Every identity table is owned by the schema owner and has RLS enabled and forced.
        expect(r).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true, owner: 'tessera_identity_owner' });
      }
      return rows.map((r) => r.relname);
    } finally {
      await c.end();
    }
  };

  /** The purge of expired Idempotency-Keys: its function and the policies on the table (none once the table is gone). */
  const purge = async (): Promise<{ fn: boolean; policies: string[] | null }> => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query(
        `SELECT to_regprocedure('identity.purge_expired_idempotency_keys(integer)') IS NOT NULL AS fn,
                (SELECT array_agg(polname::text ORDER BY polname) FROM pg_policy WHERE polrelid = to_regclass('identity.idempotency_keys')) AS policies`,
      );
      return rows[0];
    } finally {
      await c.end();
    }
  };
  /** The republish's listing of tenant ids: its function and the policies on `tenants`. */
  const listing = async (): Promise<{ fn: boolean; policies: string[] | null }> => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query(
        `SELECT to_regprocedure('identity.tenant_ids_after(uuid, integer)') IS NOT NULL AS fn,
                (SELECT array_agg(polname::text ORDER BY polname) FROM pg_policy WHERE polrelid = to_regclass('identity.tenants')) AS policies`,
      );
      return rows[0];
    } finally {
      await c.end();
    }
  };
  const PURGE_POLICIES = ['purge_expired_delete', 'purge_expired_select', 'tenant_isolation'];
  const outboxRls = async () => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(OUTBOX_RLS_SQL, [`${IDENTITY_SCHEMA}.outbox_events`])).rows[0];
    } finally {
      await c.end();
    }
  };

  /** Who may call the owner-rights lookups, and what the runtime role sees of `tenants` with an empty tenant setting. */
  const hardening = async (): Promise<{ publicCalls: boolean; runtimeCalls: boolean; emptyTenant: string }> => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query(
        `SELECT bool_or(has_function_privilege('public', 'identity.' || f, 'EXECUTE')) AS "publicCalls",
                bool_and(has_function_privilege('tessera_identity', 'identity.' || f, 'EXECUTE')) AS "runtimeCalls"
           FROM unnest(ARRAY['find_login(text)', 'find_refresh_token(bytea)', 'find_api_key(text)']) f`,
      );
      await c.query('BEGIN');
      await c.query('SET LOCAL ROLE tessera_identity');
      // What a pooled connection holds after a tenant transaction ended: the setting, emptied.
      await c.query(`SELECT set_config('app.tenant_id', '', true)`);
      let emptyTenant: string;
      try {
        emptyTenant = `${(await c.query('SELECT count(*)::int AS n FROM identity.tenants')).rows[0].n} rows`;
      } catch (e) {
        emptyTenant = (e as Error).message;
      }
      await c.query('ROLLBACK');
      return { ...rows[0], emptyTenant };
    } finally {
      await c.end();
    }
  };

  it('applies, reverts and re-applies cleanly', async () => {
    const opts = {
      adminUrl: db.url,
      schema: IDENTITY_SCHEMA,
      migrations: IDENTITY_MIGRATIONS,
      entities: IDENTITY_ENTITIES,
    };
    expect(await runMigrations({ ...opts, password: PASSWORD })).toHaveLength(8);
    expect(await hardening()).toEqual({ publicCalls: false, runtimeCalls: true, emptyTenant: '0 rows' });
    expect(await revertLastMigration(opts)).toBe('EmailNfc1797400000000');
    expect(await revertLastMigration(opts)).toBe('IdentityHardening1797100000000');
    expect(await hardening()).toEqual({ publicCalls: true, runtimeCalls: true, emptyTenant: 'invalid input syntax for type uuid: ""' });
    expect(await outboxRls()).toEqual(OUTBOX_RLS_ON);
    expect(await revertLastMigration(opts)).toBe('OutboxRls1796600000000');
    expect(await outboxRls()).toEqual(OUTBOX_RLS_OFF);
    expect(await tables()).toEqual(
      expect.arrayContaining([
        'api_keys',
        'idempotency_keys',
        'outbox_events',
        'processed_events',
        'refresh_tokens',
        'stores',
        'tenants',
        'users',
        'vendors',
      ]),
    );
    expect(await purge()).toEqual({ fn: true, policies: PURGE_POLICIES });
    expect(await listing()).toEqual({ fn: true, policies: ['definer_lookup', 'tenant_ids_listing', 'tenant_isolation'] });
    expect(await revertLastMigration(opts)).toBe('TenantIdsListing1796400000000');
    expect(await listing()).toEqual({ fn: false, policies: ['definer_lookup', 'tenant_isolation'] });
    expect(await revertLastMigration(opts)).toBe('IdempotencyKeysPurge1795400000000');
    expect(await purge()).toEqual({ fn: false, policies: ['tenant_isolation'] });
    expect(await revertLastMigration(opts)).toBe('IdempotencyKeysTable1795300000000');
    expect(await tables()).not.toContain('idempotency_keys');
    expect(await revertLastMigration(opts)).toBe('IdentitySchema1763800000000');
    expect(await tables()).not.toContain('users');
    expect(await runMigrations({ ...opts, password: PASSWORD })).toEqual([
      'IdentitySchema1763800000000',
      'IdempotencyKeysTable1795300000000',
      'IdempotencyKeysPurge1795400000000',
      'TenantIdsListing1796400000000',
      'OutboxRls1796600000000',
      'IdentityHardening1797100000000',
      'EmailNfc1797400000000',
    ]);
    expect(await hardening()).toEqual({ publicCalls: false, runtimeCalls: true, emptyTenant: '0 rows' });
    expect(await tables()).toContain('users');
    expect(await outboxRls()).toEqual(OUTBOX_RLS_ON);
    expect(await purge()).toEqual({ fn: true, policies: PURGE_POLICIES });
    expect(await listing()).toEqual({ fn: true, policies: ['definer_lookup', 'tenant_ids_listing', 'tenant_isolation'] });
  });

  it('EmailNfc rewrites addresses stored in another Unicode form, in every tenant, unless the NFC one is taken', async () => {
    const opts = { adminUrl: db.url, schema: IDENTITY_SCHEMA, migrations: IDENTITY_MIGRATIONS, entities: IDENTITY_ENTITIES };
    expect(await revertLastMigration(opts)).toBe('EmailNfc1797400000000');
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const nfd = (local: string) => `${local}@example.com`.normalize('NFD');
      const rows: [string, string][] = [
        [randomUUID(), nfd('rené')], // another tenant each
        [randomUUID(), nfd('zoë')],
        [randomUUID(), nfd('josé')], // its NFC form is taken by the next row: left as it is
        [randomUUID(), 'josé@example.com'.normalize('NFC')],
      ];
      for (const [tenant, email] of rows) {
        await c.query(`INSERT INTO identity.tenants (id, slug, name, type, default_currency, plan, status) VALUES ($1, $2, 'T', 'single_brand', 'EUR', 'free', 'active')`, [tenant, `t-${tenant.slice(0, 8)}`]);
        await c.query(`INSERT INTO identity.users (id, tenant_id, email, name, role, password_hash, status) VALUES ($1, $2, $3, 'U', 'owner', 'x', 'active')`, [randomUUID(), tenant, email]);
      }
      expect(await runMigrations({ ...opts, password: PASSWORD })).toEqual(['EmailNfc1797400000000']);
      const { rows: after } = await c.query<{ email: string; nfc: boolean }>(`SELECT email, email IS NFC NORMALIZED AS nfc FROM identity.users`);
      const seen = after.map((r): [string, boolean] => [r.email.normalize('NFC'), r.nfc]).sort((a, b) => (a[0] === b[0] ? Number(a[1]) - Number(b[1]) : a[0] < b[0] ? -1 : 1));
      expect(seen).toEqual([
        ['josé@example.com', false],
        ['josé@example.com', true],
        ['rené@example.com', true],
        ['zoë@example.com', true],
      ]);
      const forced = await c.query(`SELECT relforcerowsecurity AS f FROM pg_class WHERE oid = 'identity.users'::regclass`);
      expect(forced.rows[0].f).toBe(true);
    } finally {
      await c.end();
    }
  });
});
