import { createIdempotencyKeysPurge, dropIdempotencyKeysPurge } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Expired `Idempotency-Key` rows (POST /v1/orders) are deleted by the service in the background. Its runtime role sees
 * one tenant at a time, so it calls a SECURITY DEFINER function of the schema owner that deletes expired rows only.
 */
export class IdempotencyKeysPurge1795400000000 implements MigrationInterface {
  name = 'IdempotencyKeysPurge1795400000000';

  async up(q: QueryRunner): Promise<void> {
    await createIdempotencyKeysPurge(q, 'orders');
  }

  async down(q: QueryRunner): Promise<void> {
    await dropIdempotencyKeysPurge(q, 'orders');
  }
}
