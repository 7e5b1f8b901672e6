import { Body, Controller, Get, Post, Res, UseInterceptors } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { ApiIdempotencyKey, Caller, IdempotencyKey, idempotentReply, Roles, Scopes, type ReplyTarget } from '@tessera/service-kit';
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
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: LocationDto })
  async create(
    @Caller() caller: CallerContext,
    @Body() dto: CreateLocationDto,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: ReplyTarget,
  ): Promise<LocationDto> {
    const request = { key: idempotencyKey, operation: 'POST /v1/inventory/locations', body: dto };
    const outcome = await this.inventory.idempotency.perform(tenantOf(caller), request, async (tx) => ({
      status: 201,
      body: LocationDto.of(await this.inventory.locations.createIn(tx, dto)),
    }));
    return idempotentReply(res, outcome);
  }

  @Get()
  @ApiOkResponse({ type: LocationListDto })
  async list(@Caller() caller: CallerContext): Promise<LocationListDto> {
    return { items: (await this.inventory.locations.list(tenantOf(caller))).map(LocationDto.of) };
  }
}
