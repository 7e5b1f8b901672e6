import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, UseInterceptors } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { Caller, Roles } from '@tessera/service-kit';
import { InventoryManage, InventoryRead } from './access';
import { InventoryDomain } from '../domain';
import { FlagHotSkuDto, HotSkuListDto, HotSkuQueryDto, InventorySettingsDto, ReorderPolicyDto, UpdateInventorySettingsDto } from './dto/admin.dto';
import { StockLevelDto } from './dto/movement.dto';
import { InventoryErrorInterceptor } from './problems';
import { tenantOf } from './tenant-of';

/** Staff controls: hot-SKU flags, the reservation times to live, reorder policies. */
@ApiTags('inventory')
@Controller('v1/inventory')
@UseInterceptors(InventoryErrorInterceptor)
export class InventoryAdminController {
  constructor(private readonly inventory: InventoryDomain) {}

  @InventoryRead()
  @Get('hot-skus')
  @ApiOkResponse({ type: HotSkuListDto })
  async hotSkus(@Caller() caller: CallerContext): Promise<HotSkuListDto> {
    const items = await this.inventory.hotQueue.hotSkus(tenantOf(caller));
    return { items: items.map((h) => ({ ...h, expiresAt: h.expiresAt?.toISOString() ?? null })) };
  }

  /**
   * Sends the SKU's reservations through the queue (e.g. ahead of a flash sale). No Idempotency-Key: this sets a
   * flag (an upsert answered 204, like a PUT), so a repeated request leaves the same state and creates nothing.
   */
  @Post('hot-skus')
  @InventoryManage()
  @HttpCode(204)
  @ApiNoContentResponse()
  async flag(@Caller() caller: CallerContext, @Body() dto: FlagHotSkuDto): Promise<void> {
    await this.inventory.hotQueue.flag(tenantOf(caller), dto.sku, dto.ttlSeconds);
  }

  @Delete('hot-skus/:sku')
  @InventoryManage()
  @HttpCode(204)
  @ApiNoContentResponse()
  async unflag(@Caller() caller: CallerContext, @Param() p: HotSkuQueryDto): Promise<void> {
    await this.inventory.hotQueue.unflag(tenantOf(caller), p.sku);
  }

  /** The same by query, for any SKU: one with a `/` cannot be named in the path. */
  @Delete('hot-skus')
  @InventoryManage()
  @HttpCode(204)
  @ApiNoContentResponse()
  async unflagByQuery(@Caller() caller: CallerContext, @Query() q: HotSkuQueryDto): Promise<void> {
    await this.inventory.hotQueue.unflag(tenantOf(caller), q.sku);
  }

  @InventoryRead()
  @Get('settings')
  @ApiOkResponse({ type: InventorySettingsDto })
  async settings(@Caller() caller: CallerContext): Promise<InventorySettingsDto> {
    return this.inventory.queries.settings(tenantOf(caller));
  }

  @Put('settings')
  @Roles('owner', 'admin')
  @ApiOkResponse({ type: InventorySettingsDto })
  async updateSettings(@Caller() caller: CallerContext, @Body() dto: UpdateInventorySettingsDto): Promise<InventorySettingsDto> {
    return this.inventory.queries.updateSettings(tenantOf(caller), dto);
  }

  @Put('reorder-policies')
  @InventoryManage()
  @ApiOkResponse({ type: StockLevelDto })
  async reorderPolicy(@Caller() caller: CallerContext, @Body() dto: ReorderPolicyDto): Promise<StockLevelDto> {
    return StockLevelDto.of(await this.inventory.movements.setReorderPolicy(tenantOf(caller), dto));
  }
}
