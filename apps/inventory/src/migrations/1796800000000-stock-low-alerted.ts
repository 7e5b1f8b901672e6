import { acrossTenants } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Whether a stock row's `inventory.stock.low` has been sent since it was last restocked above its reorder point.
 * Without it the alert went out on every dip to the point, so each abandoned checkout (reserve, then release) of a
 * low SKU asked purchasing to reorder again. Rows that are low under a policy now count as alerted: the old rule
 * alerted them when they crossed.
 */
export class StockLowAlerted1796800000000 implements MigrationInterface {
  name = 'StockLowAlerted1796800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE inventory.stock_levels ADD COLUMN low_alerted boolean NOT NULL DEFAULT false`);
    await acrossTenants(q, 'inventory', ['stock_levels'], () =>
      q.query(
        `UPDATE inventory.stock_levels SET low_alerted = true
         WHERE available <= reorder_point AND (reorder_point > 0 OR reorder_quantity > 0)`,
      ),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE inventory.stock_levels DROP COLUMN low_alerted`);
  }
}
