import { disableTenantRls, enableTenantRls } from '@tessera/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'catalog';

/**
 * The catalog's read model of identity, so that a product's `vendorId` can be checked without calling identity:
 * each tenant's type (from `identity.tenant.created`; a tenant's type never changes) and each mall's vendors (from
 * `identity.vendor.created`). Both are tenant tables under RLS like products: another tenant's vendor is invisible,
 * so it reads as unknown.
 */
export class IdentityReadModel1796300000000 implements MigrationInterface {
  name = 'IdentityReadModel1796300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ${S}.known_tenants (
        tenant_id uuid PRIMARY KEY,
        type text NOT NULL CHECK (type IN ('single_brand', 'mall')),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE ${S}.known_vendors (
        tenant_id uuid NOT NULL,
        vendor_id uuid NOT NULL,
        name text NOT NULL,
        commission_rate integer NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, vendor_id)
      )`);
    await enableTenantRls(q, S, 'known_tenants');
    await enableTenantRls(q, S, 'known_vendors');
  }

  async down(q: QueryRunner): Promise<void> {
    await disableTenantRls(q, S, 'known_vendors');
    await disableTenantRls(q, S, 'known_tenants');
    await q.query(`DROP TABLE ${S}.known_vendors`);
    await q.query(`DROP TABLE ${S}.known_tenants`);
  }
}
