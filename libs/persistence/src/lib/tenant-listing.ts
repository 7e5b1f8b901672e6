import type { QueryRunner } from 'typeorm';
import { assertSchemaName, ident, ownerRoleName, runtimeRoleName } from './service-names';

/** `<schema>.tenant_ids_after(p_after uuid, p_limit integer) RETURNS TABLE (tenant_id uuid)`. */
export const TENANT_IDS_FUNCTION = 'tenant_ids_after';
/** The owner-only policy that lets the function see every tenant's rows of its source table. */
export const TENANT_IDS_POLICY = 'tenant_ids_listing';

/** Where a service's tenants are: the table whose `column` holds every tenant id that has data there. */
export interface TenantIdsSource {
  table: string;
  /** `tenant_id`, or `id` for a table of tenants; it must lead an index (keyset). */
  column: string;
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/;

function names(schema: string, source: TenantIdsSource) {
  for (const n of [source.table, source.column]) if (!NAME.test(n)) throw new Error(`invalid identifier "${n}"`);
  const s = ident(assertSchemaName(schema));
  return { s, t: `${s}.${ident(source.table)}`, c: ident(source.column), fn: `${s}.${TENANT_IDS_FUNCTION}(uuid, integer)` };
}

/**
 * Lets system work that must visit every tenant (the operator's republish of current state) learn the tenant ids,
 * and nothing else, although the runtime role sees one tenant per transaction. Like identity's lookups and the
 * idempotency purge, a SECURITY DEFINER function of the schema owner, which alone gets a read policy across tenants
 * on `source.table` (`tenant_ids_listing`, not applying to the runtime role). The function returns ids only, in
 * order after `p_after` (NULL: from the start), at most `p_limit`; the caller then reads each tenant's rows in
 * tenant transactions under RLS as always. It walks the index one distinct id at a time (a recursive CTE), so a
 * page costs `p_limit` index probes whatever the number of rows per tenant. STABLE, fixed search_path, EXECUTE for
 * the runtime role only.
 */
export async function createTenantIdsListing(queryRunner: QueryRunner, schema: string, source: TenantIdsSource): Promise<void> {
  const { s, t, c, fn } = names(schema, source);
  const owner = ident(ownerRoleName(schema));
  await queryRunner.query(`CREATE POLICY ${TENANT_IDS_POLICY} ON ${t} FOR SELECT TO ${owner} USING (true)`);
  await queryRunner.query(`
    CREATE FUNCTION ${s}.${TENANT_IDS_FUNCTION}(p_after uuid, p_limit integer) RETURNS TABLE (tenant_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ${s}, pg_temp
    AS $$
      WITH RECURSIVE ids(id) AS (
        (SELECT x.${c} FROM ${t} x WHERE p_after IS NULL OR x.${c} > p_after ORDER BY x.${c} LIMIT 1)
        UNION ALL
        SELECT (SELECT x.${c} FROM ${t} x WHERE x.${c} > ids.id ORDER BY x.${c} LIMIT 1) FROM ids WHERE ids.id IS NOT NULL
      )
      SELECT ids.id FROM ids WHERE ids.id IS NOT NULL LIMIT greatest(coalesce(p_limit, 0), 0)
    $$`);
  await queryRunner.query(`ALTER FUNCTION ${fn} OWNER TO ${owner}`);
  await queryRunner.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
  await queryRunner.query(`GRANT EXECUTE ON FUNCTION ${fn} TO ${ident(runtimeRoleName(schema))}`);
}

/** The exact inverse of createTenantIdsListing. */
export async function dropTenantIdsListing(queryRunner: QueryRunner, schema: string, source: TenantIdsSource): Promise<void> {
  const { t, fn } = names(schema, source);
  await queryRunner.query(`DROP FUNCTION ${fn}`);
  await queryRunner.query(`DROP POLICY ${TENANT_IDS_POLICY} ON ${t}`);
}
