import { acrossTenants } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'billing';

/**
 * A failed payment can be tried again: an order has payments numbered by `attempt`, each new one opened only after
 * the one before it failed. The saga opens attempt 1, and the unique (tenant, order, attempt) key keeps that
 * idempotent under redelivery as the old one-per-order key did; a partial unique index keeps at most one payment of
 * an order that has not failed, whatever races.
 */
export class PaymentAttempts1796500000000 implements MigrationInterface {
  name = 'PaymentAttempts1796500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE ${S}.payments
        ADD COLUMN attempt integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
        ADD COLUMN retry_of uuid,
        ADD CONSTRAINT payments_retry_of_fkey FOREIGN KEY (tenant_id, retry_of) REFERENCES ${S}.payments (tenant_id, id),
        ADD CONSTRAINT payments_retry_attempt_check CHECK ((attempt = 1) = (retry_of IS NULL)),
        DROP CONSTRAINT payments_tenant_order_key,
        ADD CONSTRAINT payments_tenant_order_attempt_key UNIQUE (tenant_id, order_id, attempt)`);
    await q.query(`CREATE UNIQUE INDEX payments_one_open_per_order ON ${S}.payments (tenant_id, order_id) WHERE status <> 'failed'`);
  }

  async down(q: QueryRunner): Promise<void> {
    const [{ retries }] = await acrossTenants(q, S, ['payments'], () =>
      q.query(`SELECT count(*)::int AS retries FROM ${S}.payments WHERE attempt > 1`),
    );
    if (retries > 0) throw new Error(`${retries} retried payments exist: one payment per order cannot hold them`);
    await q.query(`DROP INDEX ${S}.payments_one_open_per_order`);
    await q.query(`
      ALTER TABLE ${S}.payments
        DROP CONSTRAINT payments_tenant_order_attempt_key,
        ADD CONSTRAINT payments_tenant_order_key UNIQUE (tenant_id, order_id),
        DROP CONSTRAINT payments_retry_attempt_check,
        DROP CONSTRAINT payments_retry_of_fkey,
        DROP COLUMN retry_of,
        DROP COLUMN attempt`);
  }
}
