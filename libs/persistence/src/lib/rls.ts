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

/**
 * Runs `work` (a data migration: a backfill, or a count that guards a revert) over every tenant's rows of `tables`.
 * Migrations run as the schema's owner with no tenant set, and forced RLS filters the owner too: without this an
 * UPDATE changes no row and a count is 0, silently. FORCE is lifted for the migration's transaction only and put
 * back after `work`; should `work` throw, the migration's rollback puts it back.
 */
export async function acrossTenants<T>(queryRunner: QueryRunner, schema: string, tables: string[], work: () => Promise<T>): Promise<T> {
  if (!queryRunner.isTransactionActive) throw new Error('acrossTenants: run it inside the migration transaction');
  const refs = tables.map((table) => tableRef(schema, table));
  for (const t of refs) await queryRunner.query(`ALTER TABLE ${t} NO FORCE ROW LEVEL SECURITY`);
  const result = await work();
  for (const t of refs) await queryRunner.query(`ALTER TABLE ${t} FORCE ROW LEVEL SECURITY`);
  return result;
}
