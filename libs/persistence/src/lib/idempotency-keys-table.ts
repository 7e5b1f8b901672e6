import type { QueryRunner } from 'typeorm';
import { disableTenantRls, enableTenantRls } from './rls';
import { assertSchemaName, ident } from './service-names';

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
