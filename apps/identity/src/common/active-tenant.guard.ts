import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { CallerContext } from '@tessera/contracts';
import { TenantTransactions } from '@tessera/persistence';
import { ForbiddenProblem, UnauthorizedProblem } from '@tessera/service-kit';
import { TenantEntity } from '../tenants/tenant.entity';
import { refuseStaleUser } from '../users/caller-under-lock';
import { UserEntity } from '../users/user.entity';

/**
 * Runs on identity's tenant routes, after the caller-context guard. The gateway already refuses suspended
 * tenants from the access token's claim, but that claim can be up to 15 minutes old: this reads the current
 * state, refusing a suspended tenant (403), a user deactivated since the token was issued (401), and a user whose
 * role changed since (401 `role_changed`: refresh the token). Identity's routes decide who may manage users, keys
 * and owners from the caller's role, so a demoted owner or admin must not keep acting on the old one (an owner
 * demoted by another could otherwise promote itself back and demote the other). Writes that depend on the role
 * check again inside their own transaction (lockUsersForCaller): this read comes before it.
 */
@Injectable()
export class ActiveTenantGuard implements CanActivate {
  constructor(private readonly transactions: TenantTransactions) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const caller = context.switchToHttp().getRequest<{ tesseraCaller?: CallerContext }>().tesseraCaller;
    if (!caller?.tenantId) throw new UnauthorizedProblem('this route needs an authenticated tenant caller');
    const { tenantId, principalId, principalType } = caller;
    const state = await this.transactions.run(tenantId, async (tx) => {
      const tenant = await tx.manager.findOne(TenantEntity, {
        where: { id: tenantId },
        select: { id: true, status: true },
      });
      const user =
        principalType === 'user' && principalId
          ? await tx.manager.findOne(UserEntity, { where: { id: principalId }, select: { id: true, status: true, role: true } })
          : undefined;
      return { tenant, user };
    });
    if (!state.tenant) throw new UnauthorizedProblem('unknown tenant');
    if (state.tenant.status === 'suspended')
      throw new ForbiddenProblem('this tenant is suspended', { extensions: { reason: 'tenant_suspended' } });
    if (principalType === 'user') refuseStaleUser(state.user, caller.roles);
    return true;
  }
}
