import { Injectable } from '@nestjs/common';
import { IdentityEventTypes, type TenantStatusChangedV1 } from '@tessera/contracts';
import { OutboxWriter } from '@tessera/messaging';
import { TenantTransactions } from '@tessera/persistence';
import { ConflictProblem, NotFoundProblem } from '@tessera/service-kit';
import type { TenantStatusChangeDto, TenantStatusDto } from './dto/tenant-status.dto';
import { TenantEntity, type TenantStatus } from './tenant.entity';

/**
 * The status changes the operator may make. `trial` is where signup puts a tenant and no change leads back to it:
 * a suspended tenant is reinstated as `active`, whatever it was before.
 */
export const TENANT_STATUS_TRANSITIONS: Readonly<Record<TenantStatus, readonly TenantStatus[]>> = {
  trial: ['active', 'suspended'],
  active: ['suspended'],
  suspended: ['active'],
};

@Injectable()
export class TenantStatusService {
  constructor(
    private readonly transactions: TenantTransactions,
    private readonly outbox: OutboxWriter,
  ) {}

  /** The tenant's status now; the gateway caches it briefly and refuses suspended tenants' calls. */
  async statusOf(tenantId: string): Promise<TenantStatusDto> {
    const tenant = await this.transactions.run(tenantId, (tx) =>
      tx.manager.findOne(TenantEntity, { where: { id: tenantId }, select: { id: true, status: true } }),
    );
    if (!tenant) throw new NotFoundProblem(`tenant ${tenantId} not found`);
    return { tenantId, status: tenant.status };
  }

  /**
   * The operator's status change. Idempotent: asking for the status the tenant already has changes nothing and
   * emits nothing. Otherwise the row (locked, so concurrent changes queue and each event's `from` is the status
   * it really left) and `identity.tenant.status_changed` commit together.
   */
  async change(tenantId: string, to: TenantStatus, reason: string): Promise<TenantStatusChangeDto> {
    return this.transactions.run(tenantId, async (tx) => {
      const tenant = await tx.manager.findOne(TenantEntity, {
        where: { id: tenantId },
        select: { id: true, status: true },
        // NO KEY UPDATE: queues other status changes without holding up the inserts that reference the tenant.
        lock: { mode: 'for_no_key_update' },
      });
      if (!tenant) throw new NotFoundProblem(`tenant ${tenantId} not found`);
      const from = tenant.status;
      if (from === to) return { tenantId, status: to, previousStatus: from, changed: false };
      if (!TENANT_STATUS_TRANSITIONS[from].includes(to)) {
        throw new ConflictProblem(`a ${from} tenant cannot become ${to}`, {
          extensions: { reason: 'invalid_transition', from, to },
        });
      }
      await tx.manager.update(TenantEntity, { id: tenantId }, { status: to });
      await this.outbox.append<TenantStatusChangedV1>(tx, {
        type: IdentityEventTypes.TenantStatusChanged,
        subject: tenantId,
        data: { tenantId, from, to, reason },
      });
      return { tenantId, status: to, previousStatus: from, changed: true };
    });
  }
}
