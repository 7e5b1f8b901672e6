import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { InternalRoutes, RepublishRequestDto } from '@tessera/service-kit';
import { CatalogRepublishService, type CatalogRepublishCounts } from './republish.service';

/**
 * Operator only: `POST /internal/republish {tenantId?}` writes the catalog's product and variant events again with
 * the current state (CatalogRepublishService). Internal callers only (InternalRoutes); the gateway 404s `/internal`
 * from outside. 200 `{tenants, products, variants}` once every event is in the outbox.
 */
@Controller('internal')
@InternalRoutes()
export class CatalogRepublishController {
  constructor(private readonly republisher: CatalogRepublishService) {}

  @Post('republish')
  @HttpCode(200)
  republish(@Body() dto: RepublishRequestDto): Promise<CatalogRepublishCounts> {
    return this.republisher.republish(dto.tenantId);
  }
}
