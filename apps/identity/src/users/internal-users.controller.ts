import { Controller, Get, Param, ParseUUIDPipe, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Role } from '@tessera/contracts';
import { TenantTransactions } from '@tessera/persistence';
import { InternalCallerGuard, NotFoundProblem, Public } from '@tessera/service-kit';
import { UserEntity } from './user.entity';

export interface UserStatusDto {
  status: 'active' | 'deactivated';
  role: Role;
}

/**
 * A user's current status and role, for the gateway: it refuses an access token of a user deactivated, or whose role
 * changed, since the token was issued (cached briefly), instead of honouring it for up to its 15 minutes.
 * Internal callers only (InternalCallerGuard); the gateway 404s `/internal` from outside.
 */
@Controller('internal/tenants/:tenantId/users')
@Public()
@UseGuards(InternalCallerGuard)
@ApiExcludeController()
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
