import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, UseInterceptors } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { Caller, PageQueryDto, Roles } from '@tessera/service-kit';
import { InventoryManage, InventoryRead } from './access';
import { InventoryDomain } from '../domain';
import { FlagHotSkuDto, HotSkuListDto, HotSkuQueryDto, InventorySettingsDto, ReorderPolicyDto, UpdateInventorySettingsDto } from './dto/admin.dto';
import { StockLevelDto } from './dto/movement.dto';
import { hotSkuCursor } from './cursors';
import { InventoryErrorInterceptor } from './problems';
import { tenantOf } from './tenant-of';

/** Staff controls: hot-SKU flags, the reservation times to live, reorder policies. */
@ApiTags('inventory')
@Controller('v1/inventory')
@UseInterceptors(InventoryErrorInterceptor)
export class InventoryAdminController {
  constructor(private readonly inventory: InventoryDomain) {}

  /** Keyset pages in SKU order: `limit` 1 to 100 (default 20), `cursor` = the previous `nextCursor`. */
  @InventoryRead()
  @Get('hot-skus')
  @ApiOperation({ summary: 'List hot SKUs' })
  @ApiOkResponse({ type: HotSkuListDto })
  @ApiBadRequestResponse({ description: 'a cursor this API did not return, or a limit outside 1 to 100 (problem+json)' })
  async hotSkus(@Caller() caller: CallerContext, @Query() q: PageQueryDto): Promise<HotSkuListDto> {
    const page = await this.inventory.hotQueue.hotSkus(tenantOf(caller), { after: hotSkuCursor.decode(q.cursor), limit: q.limit });
    return {
      items: page.items.map((h) => ({ ...h, expiresAt: h.expiresAt?.toISOString() ?? null })),
      nextCursor: hotSkuCursor.encode(page.next),
    };
  }

  /**
   * Sends the SKU's reservations through the queue (e.g. ahead of a flash sale). No Idempotency-Key: this sets a
   * flag (an upsert answered 204, like a PUT), so a repeated request leaves the same state and creates nothing.
   */
  @Post('hot-skus')
  @ApiOperation({
    summary: 'Flag a hot SKU',
    description:
      "The SKU's reservations then go through a queue served in arrival order, say ahead of a flash sale. " +
      'Flagging it again only replaces the flag, so a repeated request is harmless.',
  })
  @InventoryManage()
  @HttpCode(204)
  @ApiNoContentResponse()
  async flag(@Caller() caller: CallerContext, @Body() dto: FlagHotSkuDto): Promise<void> {
    await this.inventory.hotQueue.flag(tenantOf(caller), dto.sku, dto.ttlSeconds);
  }

  @Delete('hot-skus/:sku')
  @ApiOperation({
    summary: 'Unflag a hot SKU',
    description: 'Reservations already queued for the SKU are still served, in order, before it leaves the queue.',
  })
  @InventoryManage()
  @HttpCode(204)
  @ApiNoContentResponse()
  async unflag(@Caller() caller: CallerContext, @Param() p: HotSkuQueryDto): Promise<void> {
    await this.inventory.hotQueue.unflag(tenantOf(caller), p.sku);
  }

  /** The same by query, for any SKU: one with a `/` cannot be named in the path. */
  @Delete('hot-skus')
  @ApiOperation({
    summary: 'Unflag a hot SKU by query',
    description: 'The same as DELETE /v1/inventory/hot-skus/{sku}, for a SKU that cannot be put in a path (one containing `/`).',
  })
  @InventoryManage()
  @HttpCode(204)
  @ApiNoContentResponse()
  async unflagByQuery(@Caller() caller: CallerContext, @Query() q: HotSkuQueryDto): Promise<void> {
    await this.inventory.hotQueue.unflag(tenantOf(caller), q.sku);
  }

  @InventoryRead()
  @Get('settings')
  @ApiOperation({ summary: 'Get inventory settings' })
  @ApiOkResponse({ type: InventorySettingsDto })
  async settings(@Caller() caller: CallerContext): Promise<InventorySettingsDto> {
    return this.inventory.queries.settings(tenantOf(caller));
  }

  @Put('settings')
  @ApiOperation({
    summary: 'Update inventory settings',
    description: 'Changes only the settings named. A new time to live applies to reservations made from then on; existing ones keep theirs.',
  })
  @Roles('owner', 'admin')
  @ApiOkResponse({ type: InventorySettingsDto })
  async updateSettings(@Caller() caller: CallerContext, @Body() dto: UpdateInventorySettingsDto): Promise<InventorySettingsDto> {
    return this.inventory.queries.updateSettings(tenantOf(caller), dto);
  }

  @Put('reorder-policies')
  @ApiOperation({
    summary: 'Set a reorder policy',
    description:
      'Sets the reorder point of a SKU at a location: when available stock falls to it, `inventory.stock.low` is emitted once, and ' +
      'again only after a restock lifts it above. Answers the stock level.',
  })
  @InventoryManage()
  @ApiOkResponse({ type: StockLevelDto })
  @ApiUnprocessableEntityResponse({ description: "`unknown_sku`, or `unknown_location` (locationId is not one of the tenant's locations): nothing changed" })
  async reorderPolicy(@Caller() caller: CallerContext, @Body() dto: ReorderPolicyDto): Promise<StockLevelDto> {
    return StockLevelDto.of(await this.inventory.movements.setReorderPolicy(tenantOf(caller), dto));
  }
}
