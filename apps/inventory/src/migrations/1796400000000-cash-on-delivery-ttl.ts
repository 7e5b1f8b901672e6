import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cash on delivery is collected by the carrier days after the order, so its stock is held for a time to live of its
 * own (default 14 days, at most 90) instead of the checkout's 15 minutes, after which every COD order expired.
 */
export class CashOnDeliveryTtl1796400000000 implements MigrationInterface {
  name = 'CashOnDeliveryTtl1796400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE inventory.tenant_settings
         ADD COLUMN cod_reservation_ttl_seconds integer NOT NULL DEFAULT 1209600
           CHECK (cod_reservation_ttl_seconds BETWEEN 1 AND 7776000)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE inventory.tenant_settings DROP COLUMN cod_reservation_ttl_seconds`);
  }
}
