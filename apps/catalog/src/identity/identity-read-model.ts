import type { TenantCreatedV1, VendorCreatedV1 } from '@tessera/contracts';
import { isUuid, type TenantTx } from '@tessera/persistence';
import { UnprocessableProblem } from '@tessera/service-kit';
import type { EntityManager } from 'typeorm';

const TENANT_TYPES = ['single_brand', 'mall'] as const;

/** Why a `identity.tenant.created` payload cannot be applied (a producer bug no retry fixes), or null. */
export function tenantPayloadProblem(t: Partial<TenantCreatedV1> | null | undefined, tenantId: string): string | null {
  if (!t || typeof t !== 'object') return 'no payload';
  if (!isUuid(String(t.tenantId))) return 'tenantId is not a UUID';
  if (t.tenantId !== tenantId) return 'tenantId differs from the envelope tenantid';
  if (!TENANT_TYPES.includes(t.type as (typeof TENANT_TYPES)[number])) return 'type is not single_brand or mall';
  return null;
}

/** Why a `identity.vendor.created` payload cannot be applied, or null. */
export function vendorPayloadProblem(v: Partial<VendorCreatedV1> | null | undefined, tenantId: string): string | null {
  if (!v || typeof v !== 'object') return 'no payload';
  if (!isUuid(String(v.tenantId)) || !isUuid(String(v.vendorId))) return 'tenantId/vendorId is not a UUID';
  if (v.tenantId !== tenantId) return 'tenantId differs from the envelope tenantid';
  if (typeof v.name !== 'string') return 'name is missing';
  if (!Number.isSafeInteger(v.commissionRate) || (v.commissionRate as number) > 2_147_483_647) return 'commissionRate is not an integer';
  return null;
}

/**
 * Writes of the read model, inside the inbox transaction of the event (its tenant already set). A tenant's type
 * never changes and a vendor is only created, so a second apply of the same fact changes nothing.
 */
export async function applyTenantCreated(manager: EntityManager, t: TenantCreatedV1): Promise<void> {
  await manager.query(`INSERT INTO catalog.known_tenants (tenant_id, type) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING`, [
    t.tenantId,
    t.type,
  ]);
}

export async function applyVendorCreated(manager: EntityManager, v: VendorCreatedV1): Promise<void> {
  await manager.query(
    `INSERT INTO catalog.known_vendors (tenant_id, vendor_id, name, commission_rate) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, vendor_id) DO NOTHING`,
    [v.tenantId, v.vendorId, v.name, v.commissionRate],
  );
}

function refused(reason: string, vendorId: string, detail: string): UnprocessableProblem {
  return new UnprocessableProblem(detail, { extensions: { reason, vendorId } });
}

/**
 * A product's `vendorId` must name a vendor of this tenant, and only a `mall` tenant has vendors. Read from the
 * catalog's read model of identity (eventually consistent: a tenant or vendor identity created a moment ago is known
 * here a moment later). RLS hides other tenants' vendors, so a foreign vendor id reads as unknown. 422 otherwise:
 * `not_a_mall` (a single brand, or a tenant the catalog has not heard of yet) or `unknown_vendor`.
 */
export async function assertVendorOfMall(tx: TenantTx, vendorId: string): Promise<void> {
  const [row]: { type: string | null; vendor: boolean }[] = await tx.manager.query(
    `SELECT (SELECT type FROM catalog.known_tenants WHERE tenant_id = $1) AS type,
            EXISTS (SELECT 1 FROM catalog.known_vendors WHERE tenant_id = $1 AND vendor_id = $2) AS vendor`,
    [tx.tenantId, vendorId],
  );
  if (row.type === null)
    throw refused('not_a_mall', vendorId, 'this tenant is not known to the catalog as a mall yet (identity.tenant.created not received): only mall tenants have vendors');
  if (row.type !== 'mall') throw refused('not_a_mall', vendorId, `only mall tenants have vendors; this tenant is ${row.type}`);
  if (!row.vendor) throw refused('unknown_vendor', vendorId, `vendorId ${vendorId} is not a vendor of this tenant (a vendor identity just created is known here a moment later)`);
}
