import { createIdempotencyKeysTable, dropIdempotencyKeysTable } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** `Idempotency-Key` of POST /v1/users, /stores, /vendors and /api-keys: the shared store's table, tenant-isolated. */
export class IdempotencyKeysTable1795300000000 implements MigrationInterface {
  name = 'IdempotencyKeysTable1795300000000';

  async up(q: QueryRunner): Promise<void> {
    await createIdempotencyKeysTable(q, 'identity');
  }

  async down(q: QueryRunner): Promise<void> {
    await dropIdempotencyKeysTable(q, 'identity');
  }
}
