import { disableTenantRls, enableTenantRls } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'catalog';

/**
 * Products and variants, with full-text search over title, description and SKUs and trigram matching on SKUs.
 * pg_trgm must already be installed in `public` (see installCatalogExtensions): the owner role cannot create it.
 */
export class CatalogSchema1763900000000 implements MigrationInterface {
  name = 'CatalogSchema1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (
          SELECT 1 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
          WHERE e.extname = 'pg_trgm' AND n.nspname = 'public'
        ) THEN
          RAISE EXCEPTION 'the catalog needs the pg_trgm extension in schema public: run installCatalogExtensions (nx run catalog:migrate does) or CREATE EXTENSION pg_trgm WITH SCHEMA public as an admin';
        END IF;
      END
      $$`);

    // sku_text is the space-joined SKUs of the product's variants, kept by the trigger below, so that the stored
    // search document covers SKUs while staying a generated column (it may only read its own row).
    await q.query(`
      CREATE TABLE ${S}.products (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        vendor_id uuid,
        title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
        description text CHECK (length(description) <= 20000),
        status text NOT NULL CHECK (status IN ('draft', 'active', 'archived')),
        attributes jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object'),
        images jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(images) = 'array'),
        sku_text text NOT NULL DEFAULT '',
        search_document tsvector GENERATED ALWAYS AS (
          setweight(to_tsvector('english'::regconfig, title), 'A') ||
          setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B') ||
          setweight(to_tsvector('simple'::regconfig, sku_text), 'A')
        ) STORED,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT products_seq_key UNIQUE (seq),
        CONSTRAINT products_tenant_id_id_key UNIQUE (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX products_tenant_seq_idx ON ${S}.products (tenant_id, seq DESC)`);
    await q.query(`CREATE INDEX products_tenant_status_seq_idx ON ${S}.products (tenant_id, status, seq DESC)`);
    await q.query(`CREATE INDEX products_search_idx ON ${S}.products USING gin (search_document)`);

    // The composite foreign key keeps a variant inside its product's tenant (foreign keys ignore RLS).
    await q.query(`
      CREATE TABLE ${S}.variants (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        product_id uuid NOT NULL,
        position integer NOT NULL CHECK (position >= 0),
        sku text NOT NULL CHECK (length(sku) BETWEEN 1 AND 64),
        price_amount bigint NOT NULL CHECK (price_amount > 0),
        currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        compare_at_amount bigint CHECK (compare_at_amount > 0),
        fulfillment text NOT NULL CHECK (fulfillment IN ('physical', 'digital')),
        weight_grams integer CHECK (weight_grams >= 0),
        options jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(options) = 'object'),
        status text NOT NULL CHECK (status IN ('active', 'archived')),
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT variants_tenant_sku_key UNIQUE (tenant_id, sku),
        FOREIGN KEY (tenant_id, product_id) REFERENCES ${S}.products (tenant_id, id)
      )`);
    await q.query(`CREATE INDEX variants_product_idx ON ${S}.variants (product_id, position)`);
    // Partial SKUs: ILIKE '%...%' and similarity (%) both use this trigram index.
    await q.query(`CREATE INDEX variants_sku_trgm_idx ON ${S}.variants USING gin (sku public.gin_trgm_ops)`);

    // SKUs never change once created (the API has no way to), so inserts are the only event that changes sku_text.
    await q.query(`
      CREATE FUNCTION ${S}.refresh_product_sku_text() RETURNS trigger
      LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
      BEGIN
        UPDATE ${S}.products p
           SET sku_text = coalesce((SELECT string_agg(v.sku, ' ' ORDER BY v.position) FROM ${S}.variants v WHERE v.product_id = p.id), '')
         WHERE p.id IN (SELECT DISTINCT n.product_id FROM inserted n);
        RETURN NULL;
      END
      $$`);
    await q.query(`
      CREATE TRIGGER variants_refresh_sku_text AFTER INSERT ON ${S}.variants
      REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ${S}.refresh_product_sku_text()`);

    await enableTenantRls(q, S, 'products');
    await enableTenantRls(q, S, 'variants');
  }

  async down(q: QueryRunner): Promise<void> {
    await disableTenantRls(q, S, 'variants');
    await disableTenantRls(q, S, 'products');
    await q.query(`DROP TABLE ${S}.variants`);
    await q.query(`DROP FUNCTION ${S}.refresh_product_sku_text()`);
    await q.query(`DROP TABLE ${S}.products`);
  }
}
