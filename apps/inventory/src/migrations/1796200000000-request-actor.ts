import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A request queued behind a hot SKU keeps who asked and why (the causing event), so the ledger rows its reservation
 * writes when the queue serves it name them, as they would had it been reserved at once.
 */
export class RequestActor1796200000000 implements MigrationInterface {
  name = 'RequestActor1796200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE inventory.reservation_requests ADD COLUMN actor text, ADD COLUMN correlation_id text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE inventory.reservation_requests DROP COLUMN actor, DROP COLUMN correlation_id`);
  }
}
