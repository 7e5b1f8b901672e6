import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { ApiIdempotencyKey, Caller, IdempotencyKey, idempotentReply, InternalRoutes, PageQueryDto, type ReplyTarget, Roles, UuidParamPipe } from '@tessera/service-kit';
import { ActiveTenantGuard } from '../common/active-tenant.guard';
import { tenantOf } from '../common/tenant-of';
import {
  ApiKeyListDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
  VerifiedApiKeyDto,
  VerifyApiKeyDto,
} from './dto/api-key.dto';
import { actorOf } from '../users/users.service';
import { ApiKeysService } from './api-keys.service';

@ApiTags('api-keys')
@Controller('v1/api-keys')
@UseGuards(ActiveTenantGuard)
@Roles('owner', 'admin')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @ApiOperation({
    summary: 'Create an API key',
    description:
      'The secret is shown once, in this answer, and only its digest is kept; an Idempotency-Key replay does not show it again. ' +
      'If the answer was lost, revoke the key and create another.',
  })
  @ApiIdempotencyKey()
  @ApiCreatedResponse({
    type: CreatedApiKeyDto,
    description: 'the key is shown only in this response; an Idempotency-Key replay has `key: null, keyRedacted: true`',
  })
  async create(
    @Caller() caller: CallerContext,
    @Body() dto: CreateApiKeyDto,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: ReplyTarget,
  ): Promise<CreatedApiKeyDto> {
    return idempotentReply(res, await this.apiKeys.create(actorOf(caller), dto, idempotencyKey));
  }

  @Get()
  @ApiOperation({ summary: 'List API keys' })
  @ApiOkResponse({ type: ApiKeyListDto })
  list(@Caller() caller: CallerContext, @Query() query: PageQueryDto): Promise<ApiKeyListDto> {
    return this.apiKeys.list(tenantOf(caller), query);
  }

  @Delete(':id')
  @ApiOperation({
    summary: 'Revoke an API key',
    description:
      'Revocation is final, and revoking a revoked key changes nothing. ' +
      'The gateway may still accept the key for as long as it caches a verified key (30 seconds by default).',
  })
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'revoked' })
  async revoke(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string): Promise<void> {
    await this.apiKeys.revoke(actorOf(caller), id);
  }
}

/**
 * The gateway resolves `X-Api-Key` / Bearer API keys here, with its internal context (the caller is not known yet):
 * internal callers only (InternalRoutes). The gateway does not route `/internal/...` from outside.
 */
@Controller('internal/api-keys')
@InternalRoutes()
export class InternalApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post('verify')
  @HttpCode(200)
  @ApiOkResponse({ type: VerifiedApiKeyDto })
  verify(@Body() dto: VerifyApiKeyDto): Promise<VerifiedApiKeyDto> {
    return this.apiKeys.verify(dto.key);
  }
}
