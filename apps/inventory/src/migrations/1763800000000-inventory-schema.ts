import { disableTenantRls, enableTenantRls } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'inventory';

/** Tenant tables, in creation order (dropped in reverse). */
const TENANT_TABLES = [
  'tenant_settings',
  'locations',
  'stock_levels',
  'ledger',
  'reservations',
  'reservation_allocations',
  'reservation_requests',
  'hot_skus',
] as const;

/**
 * The inventory schema. Every tenant table is under RLS; foreign keys are composite `(tenant_id, id)` because a
 * foreign key check bypasses RLS, and a plain `parent_id` could otherwise point at another tenant's row.
 */
export class InventorySchema1763800000000 implements MigrationInterface {
  name = 'InventorySchema1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ${S}.tenant_settings (
        tenant_id uuid PRIMARY KEY,
        reservation_ttl_seconds integer NOT NULL DEFAULT 900 CHECK (reservation_ttl_seconds BETWEEN 1 AND 604800),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE ${S}.locations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL,
        code text NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        parent_id uuid,
        type text NOT NULL DEFAULT 'warehouse' CHECK (type IN ('warehouse', 'bin')),
        priority integer NOT NULL DEFAULT 100,
        pick_sequence integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT locations_tenant_code_key UNIQUE (tenant_id, code),
        CONSTRAINT locations_tenant_id_key UNIQUE (tenant_id, id),
        CONSTRAINT locations_parent_fk FOREIGN KEY (tenant_id, parent_id) REFERENCES ${S}.locations (tenant_id, id),
        CONSTRAINT locations_not_own_parent CHECK (parent_id IS NULL OR parent_id <> id)
      )`);

    await q.query(`
      CREATE TABLE ${S}.stock_levels (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL,
        sku text NOT NULL CHECK (length(sku) BETWEEN 1 AND 128),
        location_id uuid NOT NULL,
        condition text NOT NULL DEFAULT 'new' CHECK (condition IN ('new', 'used')),
        on_hand integer NOT NULL DEFAULT 0,
        reserved integer NOT NULL DEFAULT 0,
        available integer GENERATED ALWAYS AS (on_hand - reserved) STORED,
        reorder_point integer NOT NULL DEFAULT 0 CHECK (reorder_point >= 0),
        reorder_quantity integer NOT NULL DEFAULT 0 CHECK (reorder_quantity >= 0),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT stock_levels_on_hand_nonneg CHECK (on_hand >= 0),
        CONSTRAINT stock_levels_reserved_nonneg CHECK (reserved >= 0),
        CONSTRAINT stock_levels_reserved_le_on_hand CHECK (reserved <= on_hand),
        CONSTRAINT stock_levels_key UNIQUE (tenant_id, sku, location_id, condition),
        CONSTRAINT stock_levels_tenant_id_key UNIQUE (tenant_id, id),
        CONSTRAINT stock_levels_location_fk FOREIGN KEY (tenant_id, location_id) REFERENCES ${S}.locations (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX stock_levels_location_idx ON ${S}.stock_levels (tenant_id, location_id)`);

    await q.query(`
      CREATE TABLE ${S}.ledger (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
        tenant_id uuid NOT NULL,
        stock_level_id uuid NOT NULL,
        sku text NOT NULL,
        location_id uuid NOT NULL,
        condition text NOT NULL,
        movement text NOT NULL CHECK (movement IN ('receive', 'adjust', 'transfer_out', 'transfer_in', 'reserve', 'release', 'expire', 'commit')),
        reason text CHECK (reason IN ('count', 'damage', 'loss', 'found')),
        delta_on_hand integer NOT NULL,
        delta_reserved integer NOT NULL,
        on_hand_before integer NOT NULL,
        on_hand_after integer NOT NULL,
        reserved_before integer NOT NULL,
        reserved_after integer NOT NULL,
        actor text,
        correlation_id text,
        reference text,
        at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ledger_on_hand_arith CHECK (on_hand_after = on_hand_before + delta_on_hand),
        CONSTRAINT ledger_reserved_arith CHECK (reserved_after = reserved_before + delta_reserved),
        CONSTRAINT ledger_adjust_has_reason CHECK (movement <> 'adjust' OR reason IS NOT NULL),
        CONSTRAINT ledger_stock_level_fk FOREIGN KEY (tenant_id, stock_level_id) REFERENCES ${S}.stock_levels (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX ledger_sku_idx ON ${S}.ledger (tenant_id, sku, seq)`);
    await q.query(`CREATE INDEX ledger_stock_level_idx ON ${S}.ledger (stock_level_id, seq)`);
    // Append-only even for the runtime role, which otherwise has DML on every table of the schema.
    await q.query(`
      CREATE FUNCTION ${S}.ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'inventory.ledger is append-only' USING ERRCODE = 'restrict_violation';
      END $$`);
    await q.query(`
      CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ${S}.ledger
      FOR EACH ROW EXECUTE FUNCTION ${S}.ledger_is_append_only()`);
    await q.query(`
      CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ${S}.ledger
      FOR EACH STATEMENT EXECUTE FUNCTION ${S}.ledger_is_append_only()`);

    await q.query(`
      CREATE TABLE ${S}.reservations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL,
        reference text NOT NULL CHECK (length(reference) BETWEEN 1 AND 200),
        status text NOT NULL CHECK (status IN ('active', 'rejected', 'committed', 'released', 'expired')),
        lines jsonb NOT NULL,
        shortfalls jsonb,
        expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        ended_at timestamptz,
        CONSTRAINT reservations_reference_key UNIQUE (tenant_id, reference),
        CONSTRAINT reservations_tenant_id_key UNIQUE (tenant_id, id),
        CONSTRAINT reservations_active_expires CHECK (status <> 'active' OR expires_at IS NOT NULL)
      )`);
    await q.query(`CREATE INDEX reservations_due_idx ON ${S}.reservations (expires_at) WHERE status = 'active'`);

    await q.query(`
      CREATE TABLE ${S}.reservation_allocations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL,
        reservation_id uuid NOT NULL,
        stock_level_id uuid NOT NULL,
        sku text NOT NULL,
        location_id uuid NOT NULL,
        condition text NOT NULL,
        quantity integer NOT NULL CHECK (quantity > 0),
        CONSTRAINT reservation_allocations_reservation_fk FOREIGN KEY (tenant_id, reservation_id) REFERENCES ${S}.reservations (tenant_id, id),
        CONSTRAINT reservation_allocations_stock_level_fk FOREIGN KEY (tenant_id, stock_level_id) REFERENCES ${S}.stock_levels (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX reservation_allocations_reservation_idx ON ${S}.reservation_allocations (reservation_id)`);

    // The hot-SKU queue: requests served in seq order per SKU, a batch per transaction.
    await q.query(`
      CREATE TABLE ${S}.reservation_requests (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        tenant_id uuid NOT NULL,
        idempotency_key text NOT NULL,
        sku text NOT NULL,
        lines jsonb NOT NULL,
        ttl_seconds integer,
        is_hot boolean NOT NULL DEFAULT true,
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'processing', 'done', 'failed')),
        outcome text CHECK (outcome IN ('confirmed', 'rejected', 'duplicate', 'withdrawn')),
        reservation_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT reservation_requests_key UNIQUE (tenant_id, idempotency_key)
      )`);
    await q.query(`CREATE INDEX reservation_requests_queue_idx ON ${S}.reservation_requests (tenant_id, sku, seq) WHERE status = 'queued'`);

    await q.query(`
      CREATE TABLE ${S}.hot_skus (
        tenant_id uuid NOT NULL,
        sku text NOT NULL,
        source text NOT NULL CHECK (source IN ('staff', 'detected')),
        expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, sku)
      )`);

    for (const table of TENANT_TABLES) await enableTenantRls(q, S, table);

    // Work indexes for the background workers, which serve every tenant. They hold only tenant ids and SKUs (no
    // business data), so they carry no RLS; the work itself then runs in a tenant transaction under RLS.
    await q.query(`
      CREATE TABLE ${S}.known_tenants (
        tenant_id uuid PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE ${S}.hot_queue_heads (
        tenant_id uuid NOT NULL,
        sku text NOT NULL,
        touched_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, sku)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ${S}.hot_queue_heads`);
    await q.query(`DROP TABLE ${S}.known_tenants`);
    for (const table of [...TENANT_TABLES].reverse()) await disableTenantRls(q, S, table);
    for (const table of [...TENANT_TABLES].reverse()) await q.query(`DROP TABLE ${S}.${table}`);
    await q.query(`DROP FUNCTION ${S}.ledger_is_append_only()`);
  }
}
