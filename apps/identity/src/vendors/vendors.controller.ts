import { Body, Controller, Get, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { ApiIdempotencyKey, Caller, IdempotencyKey, idempotentReply, PageQueryDto, Roles, Scopes, type ReplyTarget } from '@tessera/service-kit';
import { ActiveTenantGuard } from '../common/active-tenant.guard';
import { tenantOf } from '../common/tenant-of';
import { CreateVendorDto, VendorDto, VendorListDto } from './dto/vendor.dto';
import { VendorsService } from './vendors.service';

@ApiTags('vendors')
@Controller('v1/vendors')
@UseGuards(ActiveTenantGuard)
@ApiConflictResponse({ description: 'the tenant is not a mall' })
export class VendorsController {
  constructor(private readonly vendors: VendorsService) {}

  @Post()
  @ApiOperation({ summary: 'Create a vendor' })
  @Roles('owner', 'admin')
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: VendorDto })
  async create(
    @Caller() caller: CallerContext,
    @Body() dto: CreateVendorDto,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: ReplyTarget,
  ): Promise<VendorDto> {
    return idempotentReply(res, await this.vendors.create(tenantOf(caller), dto, idempotencyKey));
  }

  /**
   * Commission rates are the mall's terms with its sellers: for the tenant's managers and up, and API keys scoped
   * `vendors:read` (payouts, reporting); not for customers, floor staff or keys of other purposes.
   */
  @Get()
  @ApiOperation({ summary: 'List vendors' })
  @Roles('owner', 'admin', 'manager')
  @Scopes('vendors:read')
  @ApiOkResponse({ type: VendorListDto })
  list(@Caller() caller: CallerContext, @Query() query: PageQueryDto): Promise<VendorListDto> {
    return this.vendors.list(tenantOf(caller), query);
  }
}
