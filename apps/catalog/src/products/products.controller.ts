import { Body, Controller, Get, Headers, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOperation,
  ApiPreconditionFailedResponse,
  ApiOkResponse,
  ApiUnprocessableEntityResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { ApiIdempotencyKey, Caller, IdempotencyKey, idempotentReply, NoBodyPipe, type ReplyTarget, Roles, Scopes, UuidParamPipe } from '@tessera/service-kit';
import { CATALOG_WRITE_ROLES, CATALOG_WRITE_SCOPE } from '../common/access';
import { tenantOf } from '../common/tenant-of';
import { CreateProductDto, ListProductsQueryDto, ProductDto, ProductPageDto, UpdateProductDto } from './dto/product.dto';
import { productEtag } from './product-etag';
import { ProductsService } from './products.service';

const IF_MATCH = {
  name: 'If-Match',
  required: false,
  description: "the product's ETag as last read: the change is made only if the product is still that version, else 412",
};

/** OpenAPI: the ETag header every answer with a product carries. */
const PRODUCT_ETAG = { ETag: { description: "the product's version, to send back in If-Match", schema: { type: 'string' } } };

/** The product's ETag on the response, for a later If-Match. */
function tagged(res: ReplyTarget, product: ProductDto): ProductDto {
  res.setHeader('ETag', productEtag(product, product.variants));
  return product;
}

/**
 * Reads are open to every role of the tenant; writes need a catalog-editing role or the `catalog:write` scope.
 * A product's responses carry an ETag; PATCH and archive take it back in If-Match so that two editors working from
 * the same read cannot overwrite each other's change unnoticed (the second gets 412).
 */
@ApiTags('products')
@Controller('v1/products')
@ApiBadRequestResponse({ description: 'invalid input, with field errors' })
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Post()
  @ApiOperation({ summary: 'Create a product' })
  @Roles(...CATALOG_WRITE_ROLES)
  @Scopes(CATALOG_WRITE_SCOPE)
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: ProductDto, headers: PRODUCT_ETAG })
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
    return tagged(res, idempotentReply(res, await this.products.create(tenantOf(caller), dto, idempotencyKey)));
  }

  @Get()
  @ApiOperation({
    summary: 'Search products',
    description:
      'Newest first. With `q`, the best matches come first: a SKU equal to `q`, then word matches and SKUs containing `q`, then ' +
      'similar SKUs (mistypes).',
  })
  @ApiOkResponse({ type: ProductPageDto })
  list(@Caller() caller: CallerContext, @Query() query: ListProductsQueryDto): Promise<ProductPageDto> {
    return this.products.list(tenantOf(caller), query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a product' })
  @ApiOkResponse({ type: ProductDto, headers: PRODUCT_ETAG })
  @ApiNotFoundResponse()
  async get(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string, @Res({ passthrough: true }) res: ReplyTarget): Promise<ProductDto> {
    return tagged(res, await this.products.get(tenantOf(caller), id));
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Update a product',
    description:
      'Changes only the fields sent: variants with an `id` are changed, those without are added, and SKUs never change. ' +
      "Send the ETag you read in If-Match to get 412 instead of overwriting someone else's change.",
  })
  @Roles(...CATALOG_WRITE_ROLES)
  @Scopes(CATALOG_WRITE_SCOPE)
  @ApiOkResponse({ type: ProductDto, headers: PRODUCT_ETAG })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'an added SKU is already used in the tenant' })
  @ApiUnprocessableEntityResponse({
    description: 'vendorId refused (`reason`: `not_a_mall`, or `unknown_vendor` when it is not a vendor of this tenant)',
  })
  @ApiHeader(IF_MATCH)
  @ApiPreconditionFailedResponse({ description: 'If-Match names another version of the product (`reason`: `product_changed`)' })
  async update(
    @Caller() caller: CallerContext,
    @Param('id', UuidParamPipe) id: string,
    @Body() dto: UpdateProductDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) res: ReplyTarget,
  ): Promise<ProductDto> {
    return tagged(res, await this.products.update(tenantOf(caller), id, dto, ifMatch));
  }

  @Post(':id/archive')
  @ApiOperation({
    summary: 'Archive a product',
    description:
      'A status change, not a deletion: the product and its variants stop being sellable, and a PATCH of `status` can bring them back. ' +
      'Archiving an archived product changes nothing.',
  })
  @HttpCode(200)
  @Roles(...CATALOG_WRITE_ROLES)
  @Scopes(CATALOG_WRITE_SCOPE)
  @ApiOkResponse({ type: ProductDto, headers: PRODUCT_ETAG })
  @ApiNotFoundResponse()
  @ApiHeader(IF_MATCH)
  @ApiPreconditionFailedResponse({ description: 'If-Match names another version of the product (`reason`: `product_changed`)' })
  async archive(
    @Caller() caller: CallerContext,
    @Param('id', UuidParamPipe) id: string,
    @Body(NoBodyPipe) _body: unknown,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) res: ReplyTarget,
  ): Promise<ProductDto> {
    return tagged(res, await this.products.archive(tenantOf(caller), id, ifMatch));
  }
}
