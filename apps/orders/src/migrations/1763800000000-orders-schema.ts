import { disableTenantRls, enableTenantRls } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'orders';
const TENANT_TABLES = ['products', 'variants', 'orders', 'order_items', 'order_history', 'idempotency_keys', 'parked_events'] as const;
const STATUSES = `'pending', 'awaiting_payment', 'paid', 'rejected', 'cancelled', 'expired'`;

export class OrdersSchema1763800000000 implements MigrationInterface {
  name = 'OrdersSchema1763800000000';

  async up(q: QueryRunner): Promise<void> {
    // Read model of the catalog (built from catalog events): what can be sold, at what price. `version` is the
    // catalog aggregate's version, so a redelivered or late older event never overwrites a newer state.
    await q.query(`
      CREATE TABLE ${S}.products (
        tenant_id uuid NOT NULL,
        product_id uuid NOT NULL,
        status text NOT NULL,
        version integer NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, product_id)
      )`);
    await q.query(`
      CREATE TABLE ${S}.variants (
        tenant_id uuid NOT NULL,
        variant_id uuid NOT NULL,
        product_id uuid NOT NULL,
        sku text NOT NULL,
        price_amount bigint NOT NULL CHECK (price_amount >= 0),
        currency char(3) NOT NULL,
        status text NOT NULL,
        version integer NOT NULL,
        occurred_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, variant_id)
      )`);
    // Not unique: a SKU moving between variants can be seen twice for a moment when the two variants' events
    // travel on different partitions; lookups take the latest one.
    await q.query(`CREATE INDEX variants_sku_idx ON ${S}.variants (tenant_id, sku)`);
    await q.query(`CREATE INDEX variants_product_idx ON ${S}.variants (tenant_id, product_id)`);

    await q.query(`
      CREATE TABLE ${S}.orders (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        status text NOT NULL CHECK (status IN (${STATUSES})),
        currency char(3) NOT NULL,
        subtotal_amount bigint NOT NULL CHECK (subtotal_amount >= 0),
        total_amount bigint NOT NULL CHECK (total_amount >= 0),
        payment_method text NOT NULL CHECK (payment_method IN ('bank_transfer', 'cod', 'card')),
        customer jsonb NOT NULL,
        shipping_address jsonb,
        reservation_id uuid,
        reservation_expires_at timestamptz,
        payment_id uuid,
        rejection_reasons jsonb,
        cancel_reason text,
        placed_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT orders_tenant_id_id_key UNIQUE (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX orders_list_idx ON ${S}.orders (tenant_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX orders_status_idx ON ${S}.orders (tenant_id, status, created_at DESC, id DESC)`);
    await q.query(`
      CREATE TABLE ${S}.order_items (
        tenant_id uuid NOT NULL,
        order_id uuid NOT NULL,
        line integer NOT NULL CHECK (line >= 0),
        variant_id uuid NOT NULL,
        sku text NOT NULL,
        quantity integer NOT NULL CHECK (quantity > 0),
        unit_price_amount bigint NOT NULL CHECK (unit_price_amount >= 0),
        line_total_amount bigint NOT NULL CHECK (line_total_amount >= 0),
        PRIMARY KEY (order_id, line),
        FOREIGN KEY (tenant_id, order_id) REFERENCES ${S}.orders (tenant_id, id) ON DELETE CASCADE
      )`);
    // Append-only: one row per transition (from_status → to_status) or per noted event that moved nothing
    // (to_status NULL), with what caused it.
    await q.query(`
      CREATE TABLE ${S}.order_history (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id uuid NOT NULL,
        order_id uuid NOT NULL,
        from_status text,
        to_status text,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        cause_type text NOT NULL CHECK (cause_type IN ('api', 'event')),
        cause_event_id uuid,
        cause_event_type text,
        actor text,
        note text,
        FOREIGN KEY (tenant_id, order_id) REFERENCES ${S}.orders (tenant_id, id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX order_history_order_idx ON ${S}.order_history (order_id, seq)`);

    // Idempotency-Key of writes (DESIGN "API conventions"): per tenant, kept at least 24 h.
    await q.query(`
      CREATE TABLE ${S}.idempotency_keys (
        tenant_id uuid NOT NULL,
        key text NOT NULL,
        request_hash text NOT NULL,
        state text NOT NULL CHECK (state IN ('running', 'done')),
        response_status integer,
        response_body jsonb,
        locked_at timestamptz NOT NULL DEFAULT now(),
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, key)
      )`);
    await q.query(`CREATE INDEX idempotency_keys_expires_idx ON ${S}.idempotency_keys (expires_at)`);

    // Events about orders this service does not know: kept, never dropped, never blocking their partition.
    await q.query(`
      CREATE TABLE ${S}.parked_events (
        event_id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        order_ref text NOT NULL,
        type text NOT NULL,
        envelope jsonb NOT NULL,
        parked_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX parked_events_ref_idx ON ${S}.parked_events (tenant_id, order_ref)`);

    for (const table of TENANT_TABLES) await enableTenantRls(q, S, table);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of TENANT_TABLES) await disableTenantRls(q, S, table);
    for (const table of ['parked_events', 'idempotency_keys', 'order_history', 'order_items', 'orders', 'variants', 'products']) {
      await q.query(`DROP TABLE IF EXISTS ${S}.${table}`);
    }
  }
}
