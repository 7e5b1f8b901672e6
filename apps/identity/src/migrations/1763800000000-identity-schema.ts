import { enableTenantRls, ownerRoleName } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ROLES } from '@tessera/contracts';

const S = 'identity';
const TENANT_TABLES = ['users', 'refresh_tokens', 'vendors', 'stores', 'api_keys'] as const;
// Tables read across tenants by the SECURITY DEFINER lookups below (login, refresh, API key verification).
const LOOKUP_TABLES = ['tenants', 'users', 'refresh_tokens', 'api_keys'] as const;

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export class IdentitySchema1763800000000 implements MigrationInterface {
  name = 'IdentitySchema1763800000000';

  async up(q: QueryRunner): Promise<void> {
    const roles = ROLES.map((r) => `'${r}'`).join(', ');
    await q.query(`
      CREATE TABLE ${S}.tenants (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        slug text NOT NULL,
        type text NOT NULL CHECK (type IN ('single_brand', 'mall')),
        default_currency char(3) NOT NULL CHECK (default_currency ~ '^[A-Z]{3}$'),
        plan text NOT NULL,
        status text NOT NULL CHECK (status IN ('trial', 'active', 'suspended')),
        settings jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT tenants_slug_key UNIQUE (slug)
      )`);
    await q.query(`
      CREATE TABLE ${S}.users (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES ${S}.tenants (id),
        email text NOT NULL CHECK (email = lower(email)),
        name text NOT NULL,
        role text NOT NULL CHECK (role IN (${roles})),
        password_hash text NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'deactivated')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_email_key UNIQUE (email),
        CONSTRAINT users_tenant_id_id_key UNIQUE (tenant_id, id)
      )`);
    await q.query(`
      CREATE TABLE ${S}.refresh_tokens (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        user_id uuid NOT NULL,
        family_id uuid NOT NULL,
        token_hash bytea NOT NULL,
        expires_at timestamptz NOT NULL,
        rotated_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash),
        FOREIGN KEY (tenant_id, user_id) REFERENCES ${S}.users (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX refresh_tokens_family_idx ON ${S}.refresh_tokens (family_id)`);
    await q.query(`
      CREATE TABLE ${S}.vendors (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES ${S}.tenants (id),
        name text NOT NULL,
        commission_rate integer NOT NULL CHECK (commission_rate BETWEEN 0 AND 10000),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT vendors_tenant_id_id_key UNIQUE (tenant_id, id)
      )`);
    // The composite key keeps a store from pointing at another tenant's vendor (foreign keys ignore RLS).
    await q.query(`
      CREATE TABLE ${S}.stores (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES ${S}.tenants (id),
        vendor_id uuid,
        name text NOT NULL,
        channel text NOT NULL CHECK (channel IN ('storefront', 'bricklink', 'brickowl', 'shopee', 'tiktok_shop', 'custom_website')),
        credentials_encrypted text,
        credentials_set text[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (tenant_id, vendor_id) REFERENCES ${S}.vendors (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX stores_tenant_idx ON ${S}.stores (tenant_id, created_at, id)`);
    await q.query(`
      CREATE TABLE ${S}.api_keys (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES ${S}.tenants (id),
        name text NOT NULL,
        scopes text[] NOT NULL,
        prefix text NOT NULL,
        key_hash bytea NOT NULL,
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        CONSTRAINT api_keys_prefix_key UNIQUE (prefix)
      )`);

    for (const table of TENANT_TABLES) await enableTenantRls(q, S, table);
    // A tenant sees only its own tenants row: the policy is on `id`, not `tenant_id`.
    await q.query(`ALTER TABLE ${S}.tenants ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE ${S}.tenants FORCE ROW LEVEL SECURITY`);
    await q.query(`
      CREATE POLICY tenant_isolation ON ${S}.tenants
        USING (id = current_setting('app.tenant_id', true)::uuid)
        WITH CHECK (id = current_setting('app.tenant_id', true)::uuid)`);

    /*
     * Login, refresh and API key verification start from a secret (email, token, key) and must find the
     * tenant before any tenant can be set. They do it through three SECURITY DEFINER functions owned by the
     * schema owner, which alone gets a read-only policy across tenants. This is safe because:
     * - the functions take an exact key (email, token hash, key prefix) and return only the one matching
     *   row's fields needed to check the secret, never a listing;
     * - the runtime role gains no cross-tenant read on any table: the owner-only policies do not apply to it;
     * - they are read-only (STABLE) with a fixed search_path, so they cannot be hijacked by objects placed
     *   earlier on the caller's path;
     * - other services' roles have no USAGE on this schema, so they cannot call them.
     */
    // The schema's owner, which provisionService makes it and migrations run as.
    const ownerRole = quoteIdent(ownerRoleName(S));
    for (const table of LOOKUP_TABLES) {
      await q.query(`CREATE POLICY definer_lookup ON ${S}.${table} FOR SELECT TO ${ownerRole} USING (true)`);
    }
    await q.query(`
      CREATE FUNCTION ${S}.find_login(p_email text)
      RETURNS TABLE (user_id uuid, tenant_id uuid, password_hash text, user_status text, tenant_status text)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ${S}, pg_temp
      AS $$
        SELECT u.id, u.tenant_id, u.password_hash, u.status, t.status
        FROM ${S}.users u JOIN ${S}.tenants t ON t.id = u.tenant_id
        WHERE u.email = lower(p_email)
      $$`);
    await q.query(`
      CREATE FUNCTION ${S}.find_refresh_token(p_hash bytea)
      RETURNS TABLE (token_id uuid, tenant_id uuid)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ${S}, pg_temp
      AS $$
        SELECT r.id, r.tenant_id FROM ${S}.refresh_tokens r WHERE r.token_hash = p_hash
      $$`);
    await q.query(`
      CREATE FUNCTION ${S}.find_api_key(p_prefix text)
      RETURNS TABLE (api_key_id uuid, tenant_id uuid, scopes text[], key_hash bytea, revoked_at timestamptz, tenant_status text)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ${S}, pg_temp
      AS $$
        SELECT k.id, k.tenant_id, k.scopes, k.key_hash, k.revoked_at, t.status
        FROM ${S}.api_keys k JOIN ${S}.tenants t ON t.id = k.tenant_id
        WHERE k.prefix = p_prefix
      $$`);
    for (const fn of ['find_login(text)', 'find_refresh_token(bytea)', 'find_api_key(text)']) {
      await q.query(`ALTER FUNCTION ${S}.${fn} OWNER TO ${ownerRole}`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION IF EXISTS ${S}.find_api_key(text)`);
    await q.query(`DROP FUNCTION IF EXISTS ${S}.find_refresh_token(bytea)`);
    await q.query(`DROP FUNCTION IF EXISTS ${S}.find_login(text)`);
    for (const table of ['api_keys', 'stores', 'vendors', 'refresh_tokens', 'users', 'tenants']) {
      await q.query(`DROP TABLE IF EXISTS ${S}.${table}`);
    }
  }
}
