import { disableTenantRls, enableTenantRls } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'billing';
const TENANT_TABLES = ['payments', 'payment_status_changes', 'order_statuses'] as const;

/** Payments, their status history, and the local read model of order statuses built from orders events. */
export class BillingSchema1763900000000 implements MigrationInterface {
  name = 'BillingSchema1763900000000';

  async up(q: QueryRunner): Promise<void> {
    // One payment per order: the unique key is what makes opening it idempotent under redelivery.
    await q.query(`
      CREATE TABLE ${S}.payments (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        order_id uuid NOT NULL,
        amount bigint NOT NULL CHECK (amount >= 0),
        currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        method text NOT NULL CHECK (method IN ('bank_transfer', 'cod', 'card')),
        status text NOT NULL CHECK (status IN ('pending', 'confirmed', 'failed', 'cancelled')),
        due_at timestamptz,
        refund_required boolean NOT NULL DEFAULT false,
        refund_reason text CHECK (refund_reason IN ('order_cancelled', 'order_expired')),
        failure_reason text,
        cancel_reason text CHECK (cancel_reason IN ('order_cancelled', 'order_expired')),
        reservation_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        confirmed_at timestamptz,
        CONSTRAINT payments_tenant_order_key UNIQUE (tenant_id, order_id),
        CONSTRAINT payments_tenant_id_id_key UNIQUE (tenant_id, id),
        CONSTRAINT payments_refund_flag_check CHECK (refund_required = (refund_reason IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX payments_list_idx ON ${S}.payments (tenant_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX payments_status_idx ON ${S}.payments (tenant_id, status, created_at DESC, id DESC)`);
    await q.query(`
      CREATE TABLE ${S}.payment_status_changes (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id uuid NOT NULL,
        payment_id uuid NOT NULL,
        from_status text,
        to_status text NOT NULL,
        refund_required boolean NOT NULL,
        reason text,
        actor_id text,
        cause_event_id uuid,
        cause_event_type text,
        at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (tenant_id, payment_id) REFERENCES ${S}.payments (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX payment_status_changes_payment_idx ON ${S}.payment_status_changes (payment_id, id)`);
    // What billing knows of each order's status. Terminal statuses never go back (see OrderStatusBook).
    await q.query(`
      CREATE TABLE ${S}.order_statuses (
        tenant_id uuid NOT NULL,
        order_id uuid NOT NULL,
        status text NOT NULL CHECK (status IN ('awaiting_payment', 'paid', 'cancelled', 'expired', 'rejected')),
        event_id uuid NOT NULL,
        event_time timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, order_id)
      )`);
    for (const table of TENANT_TABLES) await enableTenantRls(q, S, table);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [...TENANT_TABLES].reverse()) await disableTenantRls(q, S, table);
    await q.query(`DROP TABLE ${S}.order_statuses`);
    await q.query(`DROP TABLE ${S}.payment_status_changes`);
    await q.query(`DROP TABLE ${S}.payments`);
  }
}
