import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiUnprocessableEntityResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { ApiIdempotencyKey, Caller, IdempotencyKey, idempotentReply, NoBodyPipe, Roles, Scopes, type ReplyTarget } from '@tessera/service-kit';
import { CATALOG_WRITE_ROLES, CATALOG_WRITE_SCOPE } from '../common/access';
import { tenantOf } from '../common/tenant-of';
import { CreateProductDto, ListProductsQueryDto, ProductDto, ProductPageDto, UpdateProductDto } from './dto/product.dto';
import { ProductsService } from './products.service';

/** Reads are open to every role of the tenant; writes need a catalog-editing role or the `catalog:write` scope. */
@ApiTags('products')
@Controller('v1/products')
@ApiBadRequestResponse({ description: 'invalid input, with field errors' })
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Post()
  @Roles(...CATALOG_WRITE_ROLES)
  @Scopes(CATALOG_WRITE_SCOPE)
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: ProductDto })
  @ApiConflictResponse({ description: 'a SKU is already used in the tenant (named in `sku`)' })
  @ApiUnprocessableEntityResponse({
    description: 'an Idempotency-Key reused with another body, or vendorId refused (`reason`: `not_a_mall`, or `unknown_vendor` when it is not a vendor of this tenant)',
  })
  async create(
    @Caller() caller: CallerContext,
    @Body() dto: CreateProductDto,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: ReplyTarget,
  ): Promise<ProductDto> {
    return idempotentReply(res, await this.products.create(tenantOf(caller), dto, idempotencyKey));
  }

  @Get()
  @ApiOkResponse({ type: ProductPageDto })
  list(@Caller() caller: CallerContext, @Query() query: ListProductsQueryDto): Promise<ProductPageDto> {
    return this.products.list(tenantOf(caller), query);
  }

  @Get(':id')
  @ApiOkResponse({ type: ProductDto })
  @ApiNotFoundResponse()
  get(@Caller() caller: CallerContext, @Param('id', ParseUUIDPipe) id: string): Promise<ProductDto> {
    return this.products.get(tenantOf(caller), id);
  }

  @Patch(':id')
  @Roles(...CATALOG_WRITE_ROLES)
  @Scopes(CATALOG_WRITE_SCOPE)
  @ApiOkResponse({ type: ProductDto })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'an added SKU is already used in the tenant' })
  @ApiUnprocessableEntityResponse({
    description: 'vendorId refused (`reason`: `not_a_mall`, or `unknown_vendor` when it is not a vendor of this tenant)',
  })
  update(
    @Caller() caller: CallerContext,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() dto: UpdateProductDto,
  ): Promise<ProductDto> {
    return this.products.update(tenantOf(caller), id, dto);
  }

  @Post(':id/archive')
  @HttpCode(200)
  @Roles(...CATALOG_WRITE_ROLES)
  @Scopes(CATALOG_WRITE_SCOPE)
  @ApiOkResponse({ type: ProductDto })
  @ApiNotFoundResponse()
  archive(@Caller() caller: CallerContext, @Param('id', ParseUUIDPipe) id: string, @Body(NoBodyPipe) _body: unknown): Promise<ProductDto> {
    return this.products.archive(tenantOf(caller), id);
  }
}
