import { CURRENT_TENANT, ident, runtimeRoleName, TENANT_POLICY } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'identity';
const LOOKUPS = ['find_login(text)', 'find_refresh_token(bytea)', 'find_api_key(text)'];

/**
 * Two gaps of the first schema, closed:
 * - the `tenants` policy read an empty `app.tenant_id` (what a pooled connection holds after a tenant transaction)
 *   as a uuid and failed, where every other table's policy sees no rows;
 * - the three owner-rights lookups kept PostgreSQL's default EXECUTE for everyone: only identity's runtime role may
 *   call them (`find_login` returns a password hash).
 */
export class IdentityHardening1797100000000 implements MigrationInterface {
  name = 'IdentityHardening1797100000000';

  async up(q: QueryRunner): Promise<void> {
    // The expression every other tenant table's policy uses (persistence's enableTenantRls), on `id` here.
    await q.query(`DROP POLICY ${TENANT_POLICY} ON ${S}.tenants`);
    await q.query(`CREATE POLICY ${TENANT_POLICY} ON ${S}.tenants USING (id = ${CURRENT_TENANT}) WITH CHECK (id = ${CURRENT_TENANT})`);
    for (const fn of LOOKUPS) {
      await q.query(`REVOKE ALL ON FUNCTION ${S}.${fn} FROM PUBLIC`);
      await q.query(`GRANT EXECUTE ON FUNCTION ${S}.${fn} TO ${ident(runtimeRoleName(S))}`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const fn of LOOKUPS) await q.query(`GRANT EXECUTE ON FUNCTION ${S}.${fn} TO PUBLIC`);
    await q.query(`DROP POLICY ${TENANT_POLICY} ON ${S}.tenants`);
    await q.query(`
      CREATE POLICY ${TENANT_POLICY} ON ${S}.tenants
        USING (id = current_setting('app.tenant_id', true)::uuid)
        WITH CHECK (id = current_setting('app.tenant_id', true)::uuid)`);
  }
}
