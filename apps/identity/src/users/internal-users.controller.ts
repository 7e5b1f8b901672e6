import { Controller, Get, Param } from '@nestjs/common';
import { InternalRoutes, UuidParamPipe } from '@tessera/service-kit';
import { UsersService, type UserStatusDto } from './users.service';

/**
 * A user's current status and role, for the gateway: it refuses an access token of a user deactivated, or whose role
 * changed, since the token was issued (cached briefly), instead of honouring it for up to its 15 minutes.
 * Internal callers only (InternalRoutes); the gateway 404s `/internal` from outside.
 */
@Controller('internal/tenants/:tenantId/users')
@InternalRoutes()
export class InternalUsersController {
  constructor(private readonly users: UsersService) {}

  @Get(':userId/status')
  statusOf(
    @Param('tenantId', UuidParamPipe) tenantId: string,
    @Param('userId', UuidParamPipe) userId: string,
  ): Promise<UserStatusDto> {
    return this.users.statusOf(tenantId, userId);
  }
}
