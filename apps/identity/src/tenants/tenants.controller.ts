import { Body, Controller, Post, Res } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ApiIdempotencyKey, IdempotencyKey, idempotentReply, Public, type ReplyTarget } from '@tessera/service-kit';
import { UserDto } from '../users/dto/user.dto';
import { CreateTenantDto, TenantDto } from './dto/create-tenant.dto';
import { TenantsService } from './tenants.service';

class SignupResultDto {
  @ApiProperty({ type: TenantDto }) tenant!: TenantDto;
  @ApiProperty({ type: UserDto }) user!: UserDto;
}

@ApiTags('tenants')
@Controller('v1/tenants')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  /**
   * Self-service signup: creates the tenant and its owner. With an Idempotency-Key, a resent signup (say, after a
   * lost response) gets the first 201 again instead of 409 `slug_taken` for its own tenant.
   */
  @Post()
  @ApiOperation({
    summary: 'Sign up a tenant',
    description:
      'Creates a tenant (on trial) and its owner in one step, without authentication. ' +
      'With an Idempotency-Key, a resent signup (say, after a lost response) gets the first 201 again instead of 409 `slug_taken`.',
  })
  @Public()
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: SignupResultDto })
  @ApiConflictResponse({ description: 'slug or email taken' })
  async signup(
    @Body() dto: CreateTenantDto,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: ReplyTarget,
  ): Promise<SignupResultDto> {
    return idempotentReply(res, await this.tenants.signup(dto, idempotencyKey));
  }
}
