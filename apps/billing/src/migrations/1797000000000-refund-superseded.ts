import { acrossTenants } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'billing';

/**
 * Money for a failed payment can still be confirmed when it arrives after all. When a later attempt has replaced
 * that payment, it is confirmed and flagged for refund with the reason `payment_superseded`; such a payment no
 * longer counts as the order's open one, so the one-open-payment index leaves refund-flagged payments out. Staff find the payments to pay back with
 * `refundRequired=true`, which a partial index serves.
 */
export class RefundSuperseded1797000000000 implements MigrationInterface {
  name = 'RefundSuperseded1797000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE ${S}.payments
        DROP CONSTRAINT payments_refund_reason_check,
        ADD CONSTRAINT payments_refund_reason_check CHECK (refund_reason IN ('order_cancelled', 'order_expired', 'payment_superseded'))`);
    await q.query(`DROP INDEX ${S}.payments_one_open_per_order`);
    await q.query(
      `CREATE UNIQUE INDEX payments_one_open_per_order ON ${S}.payments (tenant_id, order_id) WHERE status <> 'failed' AND NOT refund_required`,
    );
    // GET /v1/payments?refundRequired=true: the few payments to pay back, newest first, among all of a tenant's.
    await q.query(`CREATE INDEX payments_refund_due_idx ON ${S}.payments (tenant_id, created_at DESC, id DESC) WHERE refund_required`);
  }

  async down(q: QueryRunner): Promise<void> {
    const [{ superseded }] = await acrossTenants(q, S, ['payments'], () =>
      q.query(`SELECT count(*)::int AS superseded FROM ${S}.payments WHERE refund_reason = 'payment_superseded'`),
    );
    if (superseded > 0) throw new Error(`${superseded} payments are flagged payment_superseded, which the old schema cannot hold`);
    await q.query(`DROP INDEX ${S}.payments_refund_due_idx`);
    await q.query(`DROP INDEX ${S}.payments_one_open_per_order`);
    await q.query(`CREATE UNIQUE INDEX payments_one_open_per_order ON ${S}.payments (tenant_id, order_id) WHERE status <> 'failed'`);
    await q.query(`
      ALTER TABLE ${S}.payments
        DROP CONSTRAINT payments_refund_reason_check,
        ADD CONSTRAINT payments_refund_reason_check CHECK (refund_reason IN ('order_cancelled', 'order_expired'))`);
  }
}
