import type { QueryRunner } from 'typeorm';
import { assertSchemaName, ident } from './service-names';

export const TENANT_POLICY = 'tenant_isolation';

// nullif: once a pooled session has run set_config('app.tenant_id', ..., true), the setting survives the
// transaction as '' (not NULL), and ''::uuid would raise instead of matching nothing.
export const CURRENT_TENANT = `nullif(current_setting('app.tenant_id', true), '')::uuid`;

function tableRef(schema: string, table: string): string {
  return `${ident(assertSchemaName(schema))}.${ident(table)}`;
}

/**
 * Turns on tenant isolation for a table with a `tenant_id uuid not null` column: RLS enabled and forced (so even
 * the table owner is filtered), one policy for reads and writes, and `tenant_id` defaulting to the transaction's
 * tenant so an insert that omits it still lands in the right tenant.
 */
export async function enableTenantRls(queryRunner: QueryRunner, schema: string, table: string): Promise<void> {
  const t = tableRef(schema, table);
  await queryRunner.query(`ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY`);
  await queryRunner.query(`ALTER TABLE ${t} FORCE ROW LEVEL SECURITY`);
  await queryRunner.query(
    `CREATE POLICY ${TENANT_POLICY} ON ${t} USING (tenant_id = ${CURRENT_TENANT}) WITH CHECK (tenant_id = ${CURRENT_TENANT})`,
  );
  await queryRunner.query(`ALTER TABLE ${t} ALTER COLUMN tenant_id SET DEFAULT ${CURRENT_TENANT}`);
}

/** The exact inverse of enableTenantRls, for down migrations. */
export async function disableTenantRls(queryRunner: QueryRunner, schema: string, table: string): Promise<void> {
  const t = tableRef(schema, table);
  await queryRunner.query(`ALTER TABLE ${t} ALTER COLUMN tenant_id DROP DEFAULT`);
  await queryRunner.query(`DROP POLICY IF EXISTS ${TENANT_POLICY} ON ${t}`);
  await queryRunner.query(`ALTER TABLE ${t} NO FORCE ROW LEVEL SECURITY`);
  await queryRunner.query(`ALTER TABLE ${t} DISABLE ROW LEVEL SECURITY`);
}
