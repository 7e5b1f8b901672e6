import { Controller, Get, Param, ParseUUIDPipe } from '@nestjs/common';
import type { Role } from '@tessera/contracts';
import { TenantTransactions } from '@tessera/persistence';
import { InternalRoutes, NotFoundProblem } from '@tessera/service-kit';
import { UserEntity } from './user.entity';

export interface UserStatusDto {
  status: 'active' | 'deactivated';
  role: Role;
}

/**
 * A user's current status and role, for the gateway: it refuses an access token of a user deactivated, or whose role
 * changed, since the token was issued (cached briefly), instead of honouring it for up to its 15 minutes.
 * Internal callers only (InternalRoutes); the gateway 404s `/internal` from outside.
 */
@Controller('internal/tenants/:tenantId/users')
@InternalRoutes()
export class InternalUsersController {
  constructor(private readonly transactions: TenantTransactions) {}

  @Get(':userId/status')
  statusOf(
    @Param('tenantId', ParseUUIDPipe) tenantId: string,
    @Param('userId', ParseUUIDPipe) userId: string,
  ): Promise<UserStatusDto> {
    return this.transactions.run(tenantId, async (tx) => {
      const user = await tx.manager.findOne(UserEntity, { where: { id: userId }, select: { id: true, status: true, role: true } });
      if (!user) throw new NotFoundProblem(`user ${userId} not found in tenant ${tenantId}`);
      return { status: user.status, role: user.role };
    });
  }
}
