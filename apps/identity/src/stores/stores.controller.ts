import { Body, Controller, Get, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { ApiIdempotencyKey, Caller, IdempotencyKey, idempotentReply, PageQueryDto, type ReplyTarget, Roles, UuidParamPipe } from '@tessera/service-kit';
import { ActiveTenantGuard } from '../common/active-tenant.guard';
import { tenantOf } from '../common/tenant-of';
import { CreateStoreDto, StoreDto, StoreListDto } from './dto/store.dto';
import { StoresService } from './stores.service';

@ApiTags('stores')
@Controller('v1/stores')
@UseGuards(ActiveTenantGuard)
export class StoresController {
  constructor(private readonly stores: StoresService) {}

  @Post()
  @ApiOperation({
    summary: 'Create a store',
    description: 'The channel credentials are stored encrypted and are never returned: answers only say whether they are set (`credentialsSet`).',
  })
  @Roles('owner', 'admin')
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: StoreDto })
  @ApiUnprocessableEntityResponse({ description: "`unknown_vendor`: vendorId is not a vendor of this tenant; or the Idempotency-Key reused with another body" })
  async create(
    @Caller() caller: CallerContext,
    @Body() dto: CreateStoreDto,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: ReplyTarget,
  ): Promise<StoreDto> {
    return idempotentReply(res, await this.stores.create(tenantOf(caller), dto, idempotencyKey));
  }

  /** Any member of the tenant, or an API key of it, may read stores (credentials are never shown). */
  @Get()
  @ApiOperation({ summary: 'List stores' })
  @ApiOkResponse({ type: StoreListDto })
  list(@Caller() caller: CallerContext, @Query() query: PageQueryDto): Promise<StoreListDto> {
    return this.stores.list(tenantOf(caller), query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a store' })
  @ApiOkResponse({ type: StoreDto })
  get(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string): Promise<StoreDto> {
    return this.stores.get(tenantOf(caller), id);
  }
}
