import { Injectable } from '@nestjs/common';
import { OutboxWriter, type OutboxEventInput } from '@tessera/messaging';
import { TenantTransactions } from '@tessera/persistence';
import { NotFoundProblem } from '@tessera/service-kit';
import { MoreThan } from 'typeorm';
import { tenantCreated, vendorCreated } from '../common/identity-events';
import { TenantEntity } from '../tenants/tenant.entity';
import { VendorEntity } from '../vendors/vendor.entity';

/** Vendors read and republished per transaction: a big mall never holds one long transaction. */
export const VENDORS_PER_TRANSACTION = 500;

export interface IdentityRepublishCounts {
  tenants: number;
  vendors: number;
}

/**
 * The operator's backfill of read models built from identity's events (the catalog's `known_tenants` and
 * `known_vendors`): writes `identity.tenant.created` and `identity.vendor.created` again with each tenant's and
 * vendor's current state, through the outbox. The event log forgets (pruned or past retention), so a consumer group
 * that starts later, or a read model rebuilt after data loss, learns the older tenants and vendors this way.
 * Consumers treat these facts as "insert when missing" (catalog: ON CONFLICT DO NOTHING), so a republish changes
 * nothing where they are known, and running it twice is harmless.
 *
 * Every read is a tenant transaction under RLS: the tenants come from `tenant_ids_after` (ids only), then per
 * tenant the tenant row with the first vendors, and further vendors, keyset by id, in transactions of at most
 * VENDORS_PER_TRANSACTION, each writing its events in the same transaction as its read.
 */
@Injectable()
export class IdentityRepublishService {
  constructor(
    private readonly transactions: TenantTransactions,
    private readonly outbox: OutboxWriter,
  ) {}

  /** One tenant (404 when identity has no such tenant) or, without `tenantId`, every tenant. */
  async republish(tenantId?: string): Promise<IdentityRepublishCounts> {
    if (tenantId !== undefined) {
      const vendors = await this.republishTenant(tenantId);
      if (vendors === null) throw new NotFoundProblem(`tenant ${tenantId} not found`);
      return { tenants: 1, vendors };
    }
    const counts: IdentityRepublishCounts = { tenants: 0, vendors: 0 };
    for await (const id of this.transactions.allTenantIds()) {
      const vendors = await this.republishTenant(id);
      if (vendors === null) continue;
      counts.tenants += 1;
      counts.vendors += vendors;
    }
    return counts;
  }

  /** The tenant's events; the number of vendors republished, or null when the tenant does not exist. */
  private async republishTenant(tenantId: string): Promise<number | null> {
    let after: string | null = null;
    let vendors = 0;
    for (;;) {
      const first = after === null;
      const page = await this.transactions.run(tenantId, async (tx) => {
        const events: OutboxEventInput<unknown>[] = [];
        if (first) {
          const tenant = await tx.manager.findOneBy(TenantEntity, { id: tenantId });
          if (!tenant) return null;
          events.push(tenantCreated(tenant));
        }
        const rows = await tx.manager.find(VendorEntity, {
          where: after === null ? { tenantId } : { tenantId, id: MoreThan(after) },
          order: { id: 'ASC' },
          take: VENDORS_PER_TRANSACTION,
        });
        events.push(...rows.map(vendorCreated));
        await this.outbox.appendAll(tx, events);
        return rows;
      });
      if (page === null) return null;
      vendors += page.length;
      if (page.length < VENDORS_PER_TRANSACTION) return vendors;
      after = page[page.length - 1].id;
    }
  }
}
