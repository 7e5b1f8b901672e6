import { Body, Controller, Post } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Public } from '@tessera/service-kit';
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
   * Self-service signup: creates the tenant and its owner. No Idempotency-Key: keys are scoped to a tenant and there
   * is none yet; a retry cannot create a second tenant anyway (unique slug → 409 `slug_taken`).
   */
  @Post()
  @Public()
  @ApiCreatedResponse({ type: SignupResultDto })
  @ApiConflictResponse({ description: 'slug or email taken' })
  signup(@Body() dto: CreateTenantDto): Promise<SignupResultDto> {
    return this.tenants.signup(dto);
  }
}
