import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { InternalRoutes, RepublishRequestDto } from '@tessera/service-kit';
import { IdentityRepublishService, type IdentityRepublishCounts } from './republish.service';

/**
 * Operator only: `POST /internal/republish {tenantId?}` writes identity's tenant and vendor events again with the
 * current state (IdentityRepublishService). Internal callers only (InternalRoutes), like the tenant status
 * routes; the gateway 404s `/internal` from outside. 200 `{tenants, vendors}` once every event is in the outbox.
 */
@Controller('internal')
@InternalRoutes()
export class IdentityRepublishController {
  constructor(private readonly republisher: IdentityRepublishService) {}

  @Post('republish')
  @HttpCode(200)
  republish(@Body() dto: RepublishRequestDto): Promise<IdentityRepublishCounts> {
    return this.republisher.republish(dto.tenantId);
  }
}
