import { IdentityEventTypes, type TenantCreatedV1, type VendorCreatedV1 } from '@tessera/contracts';
import type { OutboxEventInput } from '@tessera/messaging';
import type { TenantEntity } from '../tenants/tenant.entity';
import type { VendorEntity } from '../vendors/vendor.entity';

/*
 * The events that carry a tenant's and a vendor's state, built in one place: signup and vendor creation write them,
 * and the operator's republish (republish/) writes them again with the current state.
 */

export const tenantCreated = (t: Omit<TenantEntity, 'settings' | 'createdAt'>): OutboxEventInput<TenantCreatedV1> => ({
  type: IdentityEventTypes.TenantCreated,
  subject: t.id,
  data: {
    tenantId: t.id,
    slug: t.slug,
    name: t.name,
    type: t.type,
    defaultCurrency: t.defaultCurrency,
    plan: t.plan,
    status: t.status,
  },
});

export const vendorCreated = (v: Omit<VendorEntity, 'createdAt'>): OutboxEventInput<VendorCreatedV1> => ({
  type: IdentityEventTypes.VendorCreated,
  subject: v.id,
  data: { tenantId: v.tenantId, vendorId: v.id, name: v.name, commissionRate: v.commissionRate },
});
