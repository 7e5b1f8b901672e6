import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { InternalCallerGuard, Public, RepublishRequestDto } from '@tessera/service-kit';
import { IdentityRepublishService, type IdentityRepublishCounts } from './republish.service';

/**
 * Operator only: `POST /internal/republish {tenantId?}` writes identity's tenant and vendor events again with the
 * current state (IdentityRepublishService). Internal callers only (InternalCallerGuard), like the tenant status
 * routes; the gateway 404s `/internal` from outside. 200 `{tenants, vendors}` once every event is in the outbox.
 */
@Controller('internal')
@Public()
@UseGuards(InternalCallerGuard)
@ApiExcludeController()
export class IdentityRepublishController {
  constructor(private readonly republisher: IdentityRepublishService) {}

  @Post('republish')
  @HttpCode(200)
  republish(@Body() dto: RepublishRequestDto): Promise<IdentityRepublishCounts> {
    return this.republisher.republish(dto.tenantId);
  }
}
