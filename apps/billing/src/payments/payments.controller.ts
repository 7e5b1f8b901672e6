import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBody, ApiConflictResponse, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { STAFF_ROLES, type CallerContext, type Role } from '@tessera/contracts';
import {
  ApiIdempotencyKey,
  Caller,
  IdempotencyKey,
  idempotentReply,
  NoBodyPipe,
  type ReplyTarget,
  Roles,
  Scopes,
  UnauthorizedProblem,
  UuidParamPipe,
} from '@tessera/service-kit';
import { FailPaymentDto, ListPaymentsQueryDto, PaymentDetailDto, PaymentListDto } from './dto/payment.dto';
import { PaymentsService } from './payments.service';

/** Roles that may say whether money arrived. */
const COLLECTING_ROLES: Role[] = ['owner', 'admin', 'manager', 'sales'];
/** API keys of internal ops services: `billing:read` to read, `billing:write` to confirm, fail or retry. */
const READ_SCOPE = 'billing:read';
const WRITE_SCOPE = 'billing:write';

function tenantOf(caller: CallerContext | undefined): string {
  if (!caller?.tenantId) throw new UnauthorizedProblem('this route needs an authenticated tenant caller');
  return caller.tenantId;
}

@ApiTags('payments')
@Controller('v1/payments')
export class PaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  @Get()
  @ApiOperation({ summary: 'List payments' })
  @Roles(...STAFF_ROLES) // every staff role reads payments; customers (`client`) do not
  @Scopes(READ_SCOPE)
  @ApiOkResponse({ type: PaymentListDto })
  list(@Caller() caller: CallerContext, @Query() query: ListPaymentsQueryDto): Promise<PaymentListDto> {
    return this.payments.list(tenantOf(caller), query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a payment' })
  @Roles(...STAFF_ROLES)
  @Scopes(READ_SCOPE)
  @ApiOkResponse({ type: PaymentDetailDto })
  get(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string): Promise<PaymentDetailDto> {
    return this.payments.get(tenantOf(caller), id);
  }

  @Post(':id/confirm')
  @ApiOperation({
    summary: 'Confirm a payment',
    description:
      'Records that the money arrived, which makes the order paid. Late money is never refused: when the order has already ended, or a ' +
      'retry replaced this payment, it is recorded with `refundRequired: true` instead.',
  })
  @HttpCode(200)
  @Roles(...COLLECTING_ROLES)
  @Scopes(WRITE_SCOPE)
  @ApiOkResponse({ type: PaymentDetailDto })
  @ApiConflictResponse({ description: 'payment_not_pending: the payment is already confirmed (money for a failed or cancelled payment is taken, and paid or flagged for refund)' })
  confirm(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string, @Body(NoBodyPipe) _body: unknown): Promise<PaymentDetailDto> {
    return this.payments.confirm(tenantOf(caller), id, caller.principalId ?? null);
  }

  @Post(':id/fail')
  @ApiOperation({
    summary: 'Mark a payment as failed',
    description:
      'The order keeps awaiting payment, and its stock stays reserved, until staff retry the payment, cancel the order or the ' +
      'reservation expires.',
  })
  @HttpCode(200)
  @Roles(...COLLECTING_ROLES)
  @Scopes(WRITE_SCOPE)
  // Every field is optional and no body at all is accepted: not `requestBody.required`, which @Body() alone implies.
  @ApiBody({ type: FailPaymentDto, required: false })
  @ApiOkResponse({ type: PaymentDetailDto })
  @ApiConflictResponse({ description: 'the payment is not pending' })
  fail(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string, @Body() dto: FailPaymentDto): Promise<PaymentDetailDto> {
    return this.payments.fail(tenantOf(caller), id, caller.principalId ?? null, dto.reason ?? null);
  }

  /** Creates a payment, so it honours Idempotency-Key (DESIGN "API conventions"): a repeat replays the first 201. */
  @Post(':id/retry')
  @ApiOperation({
    summary: 'Retry a failed payment',
    description:
      "Opens the next attempt: a new pending payment for the same order and amount, which becomes the order's payment. " +
      'With an Idempotency-Key, a resend replays the first 201 instead of 409 `payment_superseded`.',
  })
  @HttpCode(201)
  @Roles(...COLLECTING_ROLES)
  @Scopes(WRITE_SCOPE)
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: PaymentDetailDto, description: 'the new pending payment (the next attempt); with a used Idempotency-Key, the first response replayed' })
  @ApiConflictResponse({
    description: 'the payment has not failed, was already tried again, or its order no longer awaits payment; or a request with this Idempotency-Key is still running',
  })
  @ApiUnprocessableEntityResponse({ description: 'the Idempotency-Key was used for another request (another payment): `reason` idempotency_key_reused' })
  async retry(
    @Caller() caller: CallerContext,
    @Param('id', UuidParamPipe) id: string,
    @Body(NoBodyPipe) _body: unknown,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: ReplyTarget,
  ): Promise<PaymentDetailDto> {
    return idempotentReply(res, await this.payments.retry(tenantOf(caller), id, caller.principalId ?? null, idempotencyKey));
  }
}
