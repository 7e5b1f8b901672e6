import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a payment arrives after its reservation expired, inventory takes the stock again and commits it if it is still
 * there; when it is not, the refusal is recorded here so that it is final: a redelivered payment event must not
 * commit later, once the order has already been ended and its money marked for refund.
 */
export class ReservationCommitRefused1796000000000 implements MigrationInterface {
  name = 'ReservationCommitRefused1796000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE inventory.reservations ADD COLUMN commit_refused_at timestamptz`);
    await q.query(
      `ALTER TABLE inventory.reservations ADD CONSTRAINT reservations_refused_expired CHECK (commit_refused_at IS NULL OR status = 'expired')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE inventory.reservations DROP COLUMN commit_refused_at`);
  }
}
