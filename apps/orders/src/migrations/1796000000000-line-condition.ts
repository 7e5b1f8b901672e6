import type { MigrationInterface, QueryRunner } from 'typeorm';

const CONDITION = `text NOT NULL DEFAULT 'new' CHECK (condition IN ('new', 'used'))`;

/**
 * The stock condition a variant sells (catalog's `condition` option, in its events) is kept in the read model and
 * snapshotted on each order line, so orders.order.placed asks inventory for stock of that condition. Rows present
 * were all sold as new.
 */
export class LineCondition1796000000000 implements MigrationInterface {
  name = 'LineCondition1796000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE orders.variants ADD COLUMN condition ${CONDITION}`);
    await q.query(`ALTER TABLE orders.order_items ADD COLUMN condition ${CONDITION}`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE orders.order_items DROP COLUMN condition`);
    await q.query(`ALTER TABLE orders.variants DROP COLUMN condition`);
  }
}
