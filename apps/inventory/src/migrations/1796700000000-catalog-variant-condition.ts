import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The stock condition each catalog variant sells (`new` or `used`, from catalog.variant.* events), so that a movement
 * without a condition lands in the variant's: orders reserve in that condition, and stock received as new for a used
 * part's SKU could not be sold. NULL for rows written before this column, until the variant's next event.
 */
export class CatalogVariantCondition1796700000000 implements MigrationInterface {
  name = 'CatalogVariantCondition1796700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE inventory.catalog_variants ADD COLUMN condition text CHECK (condition IN ('new', 'used'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE inventory.catalog_variants DROP COLUMN condition`);
  }
}
