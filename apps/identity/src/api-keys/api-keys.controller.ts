import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, UseGuards } from '@nestjs/common';
import { ApiCreatedResponse, ApiExcludeEndpoint, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { Caller, Public, Roles } from '@tessera/service-kit';
import { ActiveTenantGuard } from '../common/active-tenant.guard';
import { tenantOf } from '../common/tenant-of';
import {
  ApiKeyListDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
  VerifiedApiKeyDto,
  VerifyApiKeyDto,
} from './dto/api-key.dto';
import { ApiKeysService } from './api-keys.service';

@ApiTags('api-keys')
@Controller('v1/api-keys')
@UseGuards(ActiveTenantGuard)
@Roles('owner', 'admin')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @ApiCreatedResponse({ type: CreatedApiKeyDto, description: 'the key is shown only in this response' })
  create(@Caller() caller: CallerContext, @Body() dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.apiKeys.create(tenantOf(caller), caller.principalId, dto);
  }

  @Get()
  @ApiOkResponse({ type: ApiKeyListDto })
  list(@Caller() caller: CallerContext): Promise<ApiKeyListDto> {
    return this.apiKeys.list(tenantOf(caller));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'revoked' })
  async revoke(@Caller() caller: CallerContext, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    await this.apiKeys.revoke(tenantOf(caller), id);
  }
}

/**
 * The gateway resolves `X-Api-Key` / Bearer API keys here. It carries an anonymous gateway context (the caller is
 * not known yet), so the route is @Public; without a valid gateway context it is still refused. The gateway does
 * not route `/internal/...` from outside.
 */
@Controller('internal/api-keys')
export class InternalApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post('verify')
  @Public()
  @HttpCode(200)
  @ApiExcludeEndpoint()
  @ApiOkResponse({ type: VerifiedApiKeyDto })
  verify(@Body() dto: VerifyApiKeyDto): Promise<VerifiedApiKeyDto> {
    return this.apiKeys.verify(dto.key);
  }
}
