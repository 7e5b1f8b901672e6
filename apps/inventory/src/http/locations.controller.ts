import { Body, Controller, Get, Post, UseInterceptors } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { Caller, Roles, Scopes } from '@tessera/service-kit';
import { InventoryDomain } from '../domain';
import { CreateLocationDto, LocationDto, LocationListDto } from './dto/location.dto';
import { InventoryErrorInterceptor } from './problems';
import { tenantOf } from './tenant-of';

@ApiTags('inventory')
@Controller('v1/inventory/locations')
@UseInterceptors(InventoryErrorInterceptor)
export class LocationsController {
  constructor(private readonly inventory: InventoryDomain) {}

  @Post()
  @Roles('owner', 'admin', 'manager')
  @Scopes('inventory:write')
  @ApiCreatedResponse({ type: LocationDto })
  async create(@Caller() caller: CallerContext, @Body() dto: CreateLocationDto): Promise<LocationDto> {
    return LocationDto.of(await this.inventory.locations.create(tenantOf(caller), dto));
  }

  @Get()
  @ApiOkResponse({ type: LocationListDto })
  async list(@Caller() caller: CallerContext): Promise<LocationListDto> {
    return { items: (await this.inventory.locations.list(tenantOf(caller))).map(LocationDto.of) };
  }
}
