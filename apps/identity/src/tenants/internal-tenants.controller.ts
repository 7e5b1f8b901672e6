import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { InternalRoutes, UuidParamPipe } from '@tessera/service-kit';
import { ChangeTenantStatusDto, type TenantStatusChangeDto, type TenantStatusDto } from './dto/tenant-status.dto';
import { TenantStatusService } from './tenant-status.service';

/**
 * Tenant status for the platform, never for tenants: the gateway reads it (and refuses suspended tenants' calls),
 * the operator changes it. Internal callers only (InternalRoutes); the gateway 404s `/internal` from outside.
 */
@Controller('internal/tenants')
@InternalRoutes()
export class InternalTenantsController {
  constructor(private readonly status: TenantStatusService) {}

  @Get(':id/status')
  get(@Param('id', UuidParamPipe) id: string): Promise<TenantStatusDto> {
    return this.status.statusOf(id);
  }

  /** Operator: `{status, reason}`; 200 whether or not it changed anything (see `changed`). */
  @Put(':id/status')
  put(@Param('id', UuidParamPipe) id: string, @Body() dto: ChangeTenantStatusDto): Promise<TenantStatusChangeDto> {
    return this.status.change(id, dto.status, dto.reason);
  }
}
