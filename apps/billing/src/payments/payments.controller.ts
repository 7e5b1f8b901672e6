import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { STAFF_ROLES, type CallerContext, type Role } from '@tessera/contracts';
import { Caller, NoBodyPipe, Roles, Scopes, UnauthorizedProblem, UuidParamPipe } from '@tessera/service-kit';
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
  @Roles(...STAFF_ROLES) // every staff role reads payments; customers (`client`) do not
  @Scopes(READ_SCOPE)
  @ApiOkResponse({ type: PaymentListDto })
  list(@Caller() caller: CallerContext, @Query() query: ListPaymentsQueryDto): Promise<PaymentListDto> {
    return this.payments.list(tenantOf(caller), query);
  }

  @Get(':id')
  @Roles(...STAFF_ROLES)
  @Scopes(READ_SCOPE)
  @ApiOkResponse({ type: PaymentDetailDto })
  get(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string): Promise<PaymentDetailDto> {
    return this.payments.get(tenantOf(caller), id);
  }

  @Post(':id/confirm')
  @HttpCode(200)
  @Roles(...COLLECTING_ROLES)
  @Scopes(WRITE_SCOPE)
  @ApiOkResponse({ type: PaymentDetailDto })
  @ApiConflictResponse({ description: 'payment_not_pending: the payment is already confirmed (money for a failed or cancelled payment is taken, and paid or flagged for refund)' })
  confirm(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string, @Body(NoBodyPipe) _body: unknown): Promise<PaymentDetailDto> {
    return this.payments.confirm(tenantOf(caller), id, caller.principalId ?? null);
  }

  @Post(':id/fail')
  @HttpCode(200)
  @Roles(...COLLECTING_ROLES)
  @Scopes(WRITE_SCOPE)
  @ApiOkResponse({ type: PaymentDetailDto })
  @ApiConflictResponse({ description: 'the payment is not pending' })
  fail(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string, @Body() dto: FailPaymentDto): Promise<PaymentDetailDto> {
    return this.payments.fail(tenantOf(caller), id, caller.principalId ?? null, dto.reason ?? null);
  }

  @Post(':id/retry')
  @HttpCode(201)
  @Roles(...COLLECTING_ROLES)
  @Scopes(WRITE_SCOPE)
  @ApiCreatedResponse({ type: PaymentDetailDto, description: 'the new pending payment (the next attempt)' })
  @ApiConflictResponse({ description: 'the payment has not failed, was already tried again, or its order no longer awaits payment' })
  retry(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string, @Body(NoBodyPipe) _body: unknown): Promise<PaymentDetailDto> {
    return this.payments.retry(tenantOf(caller), id, caller.principalId ?? null);
  }
}
