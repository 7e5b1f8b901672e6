import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Orders' `idempotency_keys` predates the shared IdempotencyKeys store (@tessera/persistence): it gains the store's
 * `claim` column, so its table matches createIdempotencyKeysTable. Rows present get a token of their own.
 */
export class IdempotencyClaim1795300000000 implements MigrationInterface {
  name = 'IdempotencyClaim1795300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE orders.idempotency_keys ADD COLUMN claim uuid NOT NULL DEFAULT gen_random_uuid()`);
    await q.query(`ALTER TABLE orders.idempotency_keys ALTER COLUMN claim DROP DEFAULT`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE orders.idempotency_keys DROP COLUMN claim`);
  }
}
