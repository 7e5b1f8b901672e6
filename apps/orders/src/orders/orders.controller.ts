import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiConflictResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import {
  ApiIdempotencyKey,
  Caller,
  IdempotencyKey,
  idempotentReply,
  Roles,
  Scopes,
  UuidParamPipe,
  type ReplyTarget,
} from '@tessera/service-kit';
import { CancelOrderDto, PlaceOrderDto } from './dto/place-order.dto';
import { ListOrdersQueryDto, OrderDto, OrderListDto, PlacedOrderDto } from './dto/order-view.dto';
import { OrdersService } from './orders.service';

/** Staff who take and manage orders; read access adds viewers and pickers. */
const WRITERS = ['owner', 'admin', 'manager', 'staff', 'sales'] as const;
const READERS = [...WRITERS, 'viewer', 'picker'] as const;

/** The order's id in the path, documented as what UuidParamPipe accepts. */
const ApiOrderId = () => ApiParam({ name: 'id', type: String, format: 'uuid', description: 'the order' });

@ApiTags('orders')
@Controller('v1/orders')
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @ApiOperation({
    summary: 'Place an order',
    description:
      'Accepted, not yet done: the answer is 202 with the order `pending`; stock is reserved afterwards, moving it to ' +
      '`awaiting_payment` or `rejected` (follow it with GET /v1/orders/{id}). With an Idempotency-Key, a resend replays the first ' +
      'answer instead of placing a second order.',
  })
  @HttpCode(202)
  @Roles(...WRITERS)
  @Scopes('orders:write')
  @ApiIdempotencyKey()
  @ApiAcceptedResponse({ type: PlacedOrderDto, description: 'accepted: stock reservation follows asynchronously' })
  @ApiConflictResponse({ description: "the Idempotency-Key's first request is still running" })
  @ApiUnprocessableEntityResponse({
    description:
      '`invalid_lines` (`lines`: each unknown or unsellable SKU with its index), `mixed_currencies`, `total_too_large`, ' +
      'or the Idempotency-Key reused with another body',
  })
  async place(
    @Caller() caller: CallerContext,
    @Body() dto: PlaceOrderDto,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: ReplyTarget,
  ): Promise<PlacedOrderDto> {
    return idempotentReply(res, await this.orders.place(caller, dto, idempotencyKey));
  }

  @Get()
  @ApiOperation({ summary: 'List orders' })
  @Roles(...READERS)
  @Scopes('orders:read')
  @ApiOkResponse({ type: OrderListDto })
  list(@Caller() caller: CallerContext, @Query() query: ListOrdersQueryDto): Promise<OrderListDto> {
    return this.orders.list(caller, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get an order' })
  @Roles(...READERS)
  @Scopes('orders:read')
  @ApiOrderId()
  @ApiOkResponse({ type: OrderDto })
  get(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string): Promise<OrderDto> {
    return this.orders.get(caller, id);
  }

  @Post(':id/cancel')
  @ApiOperation({
    summary: 'Cancel an order',
    description:
      'Only a `pending` or `awaiting_payment` order can be cancelled (else 409). ' +
      'Its stock reservation is then released and its pending payment cancelled, asynchronously.',
  })
  @HttpCode(200)
  @Roles(...WRITERS)
  @Scopes('orders:write')
  @ApiOrderId()
  // Every field is optional and no body at all cancels with the default reason: the body is not required.
  @ApiBody({ type: CancelOrderDto, required: false })
  @ApiOkResponse({ type: OrderDto })
  cancel(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string, @Body() dto: CancelOrderDto): Promise<OrderDto> {
    return this.orders.cancel(caller, id, dto?.reason);
  }
}
