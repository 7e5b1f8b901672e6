import type { QueryRunner } from 'typeorm';
import { disableTenantRls, enableTenantRls } from './rls';
import { assertSchemaName, ident, ownerRoleName, runtimeRoleName } from './service-names';

export const IDEMPOTENCY_KEYS_TABLE = 'idempotency_keys';

function tableRef(schema: string): string {
  return `${ident(assertSchemaName(schema))}.${IDEMPOTENCY_KEYS_TABLE}`;
}

/**
 * Creates `<schema>.idempotency_keys`, the table IdempotencyKeys works on, tenant-isolated like every tenant table
 * (enableTenantRls: RLS enabled and forced, policy `tenant_isolation`, tenant_id defaulting to the transaction's
 * tenant). For a service migration's `up`; `dropIdempotencyKeysTable` is its `down`.
 */
export async function createIdempotencyKeysTable(queryRunner: QueryRunner, schema: string): Promise<void> {
  const t = tableRef(schema);
  // `claim` names the request holding a running key, so that a request whose key was taken over (abandoned, see
  // IdempotencyKeys) can neither store its response nor release the new holder's claim.
  await queryRunner.query(`
    CREATE TABLE ${t} (
      tenant_id uuid NOT NULL,
      key text NOT NULL,
      request_hash text NOT NULL,
      state text NOT NULL CHECK (state IN ('running', 'done')),
      claim uuid NOT NULL,
      response_status integer,
      response_body jsonb,
      locked_at timestamptz NOT NULL DEFAULT now(),
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (tenant_id, key)
    )`);
  await queryRunner.query(`CREATE INDEX idempotency_keys_expires_idx ON ${t} (expires_at)`);
  await enableTenantRls(queryRunner, schema, IDEMPOTENCY_KEYS_TABLE);
}

/** The exact inverse of createIdempotencyKeysTable. */
export async function dropIdempotencyKeysTable(queryRunner: QueryRunner, schema: string): Promise<void> {
  await disableTenantRls(queryRunner, schema, IDEMPOTENCY_KEYS_TABLE);
  await queryRunner.query(`DROP TABLE ${tableRef(schema)}`);
}

/** `<schema>.purge_expired_idempotency_keys(p_limit integer) RETURNS integer`: see createIdempotencyKeysPurge. */
export const PURGE_EXPIRED_IDEMPOTENCY_KEYS = 'purge_expired_idempotency_keys';
/** The owner-only policies that let the purge function see and delete expired rows of every tenant. */
export const IDEMPOTENCY_PURGE_POLICIES = { select: 'purge_expired_select', delete: 'purge_expired_delete' } as const;

/**
 * Adds the purge of expired keys to an existing `<schema>.idempotency_keys` (for a service migration's `up`;
 * `dropIdempotencyKeysPurge` is its `down`). The runtime role sees one tenant per transaction, so it cannot delete
 * across tenants itself; like identity's lookups (1763800000000-identity-schema), it calls a SECURITY DEFINER
 * function owned by the schema owner, and only the owner gets policies across tenants, limited to expired rows:
 * - `FOR SELECT` and `FOR DELETE TO <owner> USING (expires_at < now())`: a DELETE with a WHERE also needs the SELECT
 *   policy. They do not apply to the runtime role, which gains no cross-tenant read or delete of its own.
 * - the function deletes at most `p_limit` expired rows, oldest first (the `expires_at` index), and returns how
 *   many; a fixed search_path keeps objects on the caller's path out of it. EXECUTE is the runtime role's only
 *   (functions are executable by PUBLIC by default).
 */
export async function createIdempotencyKeysPurge(queryRunner: QueryRunner, schema: string): Promise<void> {
  const s = ident(assertSchemaName(schema));
  const t = tableRef(schema);
  const name = `${s}.${PURGE_EXPIRED_IDEMPOTENCY_KEYS}`;
  const fn = `${name}(integer)`;
  // The schema's owner (provisionService makes it so): migrations run as it, and the function must belong to it,
  // not to a superuser running the migration by hand, who would bypass RLS inside the function.
  const ownerRole = ident(ownerRoleName(schema));
  await queryRunner.query(`CREATE POLICY ${IDEMPOTENCY_PURGE_POLICIES.select} ON ${t} FOR SELECT TO ${ownerRole} USING (expires_at < now())`);
  await queryRunner.query(`CREATE POLICY ${IDEMPOTENCY_PURGE_POLICIES.delete} ON ${t} FOR DELETE TO ${ownerRole} USING (expires_at < now())`);
  // STRICT: a NULL limit (LIMIT NULL is no limit) deletes nothing. The DELETE checks expires_at again: a key
  // reclaimed by its tenant between the subquery and the delete has a new expiry and is kept. Called inside a
  // tenant transaction the owner would also see that tenant's live rows (tenant_isolation), so that check is
  // what limits the delete to expired rows in every case.
  await queryRunner.query(`
    CREATE FUNCTION ${name}(p_limit integer) RETURNS integer
    LANGUAGE sql VOLATILE STRICT SECURITY DEFINER SET search_path = ${s}, pg_temp
    AS $$
      WITH purged AS (
        DELETE FROM ${t}
        WHERE ctid = ANY (ARRAY(
          SELECT ctid FROM ${t} WHERE expires_at < now() ORDER BY expires_at LIMIT p_limit
        ))
          AND expires_at < now()
        RETURNING 1
      )
      SELECT count(*)::integer FROM purged
    $$`);
  await queryRunner.query(`ALTER FUNCTION ${fn} OWNER TO ${ownerRole}`);
  await queryRunner.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
  await queryRunner.query(`GRANT EXECUTE ON FUNCTION ${fn} TO ${ident(runtimeRoleName(schema))}`);
}

/** The exact inverse of createIdempotencyKeysPurge. */
export async function dropIdempotencyKeysPurge(queryRunner: QueryRunner, schema: string): Promise<void> {
  const t = tableRef(schema);
  await queryRunner.query(`DROP FUNCTION ${ident(assertSchemaName(schema))}.${PURGE_EXPIRED_IDEMPOTENCY_KEYS}(integer)`);
  await queryRunner.query(`DROP POLICY ${IDEMPOTENCY_PURGE_POLICIES.delete} ON ${t}`);
  await queryRunner.query(`DROP POLICY ${IDEMPOTENCY_PURGE_POLICIES.select} ON ${t}`);
}
