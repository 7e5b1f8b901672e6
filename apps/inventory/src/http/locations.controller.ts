import { Body, Controller, Get, Post, Query, Res, UseInterceptors } from '@nestjs/common';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { ApiIdempotencyKey, Caller, IdempotencyKey, idempotentReply, type ReplyTarget } from '@tessera/service-kit';
import { InventoryManage, InventoryRead } from './access';
import { InventoryDomain } from '../domain';
import { locationCursor } from './cursors';
import { CreateLocationDto, LocationDto, LocationListDto, LocationsQueryDto } from './dto/location.dto';
import { InventoryErrorInterceptor } from './problems';
import { tenantOf } from './tenant-of';

@ApiTags('inventory')
@Controller('v1/inventory/locations')
@UseInterceptors(InventoryErrorInterceptor)
export class LocationsController {
  constructor(private readonly inventory: InventoryDomain) {}

  @Post()
  @ApiOperation({
    summary: 'Create a location',
    description:
      'A bin sits in a warehouse; a warehouse sits at the top or in another warehouse. ' +
      "A location's parent and type cannot be changed later.",
  })
  @InventoryManage()
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: LocationDto })
  @ApiUnprocessableEntityResponse({
    description:
      "a bin without a parent (reason parent_required), a parent that is a bin (reason invalid_parent), or a parentId that is not one of this tenant's " +
      'locations (reason unknown_location): problem+json, nothing created',
  })
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

  /** Keyset pages in allocation order `(priority, code)`: `limit` 1 to 100 (default 20), `cursor` = the previous `nextCursor`. */
  @InventoryRead()
  @Get()
  @ApiOperation({ summary: 'List locations' })
  @ApiOkResponse({ type: LocationListDto })
  @ApiBadRequestResponse({ description: 'a cursor this API did not return, or a limit outside 1 to 100 (problem+json)' })
  async list(@Caller() caller: CallerContext, @Query() q: LocationsQueryDto): Promise<LocationListDto> {
    const page = await this.inventory.locations.page(tenantOf(caller), { after: locationCursor.decode(q.cursor), limit: q.limit });
    return { items: page.items.map(LocationDto.of), nextCursor: locationCursor.encode(page.next) };
  }
}
