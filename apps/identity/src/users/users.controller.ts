import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { CallerContext } from '@tessera/contracts';
import { ApiIdempotencyKey, Caller, IdempotencyKey, idempotentReply, NoBodyPipe, PageQueryDto, type ReplyTarget, Roles, UuidParamPipe } from '@tessera/service-kit';
import { ActiveTenantGuard } from '../common/active-tenant.guard';
import { TenantDto } from '../tenants/dto/create-tenant.dto';
import { CreateUserDto, UpdateUserDto, UserDto, UserPageDto } from './dto/user.dto';
import { actorOf, UsersService } from './users.service';

class MeDto {
  @ApiProperty({ type: UserDto }) user!: UserDto;
  @ApiProperty({ type: TenantDto }) tenant!: TenantDto;
}

@ApiTags('users')
@Controller('v1')
@UseGuards(ActiveTenantGuard)
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get('me')
  @ApiOperation({ summary: 'Get the current user and tenant' })
  @ApiOkResponse({ type: MeDto })
  me(@Caller() caller: CallerContext): Promise<MeDto> {
    return this.users.me(actorOf(caller));
  }

  @Post('users')
  @ApiOperation({ summary: 'Create a user' })
  @Roles('owner', 'admin')
  @ApiIdempotencyKey()
  @ApiCreatedResponse({ type: UserDto })
  async create(
    @Caller() caller: CallerContext,
    @Body() dto: CreateUserDto,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: ReplyTarget,
  ): Promise<UserDto> {
    return idempotentReply(res, await this.users.create(actorOf(caller), dto, idempotencyKey));
  }

  @Get('users')
  @ApiOperation({ summary: 'List users' })
  @Roles('owner', 'admin', 'manager')
  @ApiOkResponse({ type: UserPageDto })
  list(@Caller() caller: CallerContext, @Query() query: PageQueryDto): Promise<UserPageDto> {
    return this.users.list(actorOf(caller), query.limit, query.cursor);
  }

  @Patch('users/:id')
  @ApiOperation({
    summary: 'Update a user',
    description:
      "Changes the user's name or role. A role change takes effect within seconds: requests with a token that names the old role get " +
      '401 `role_changed` until the client refreshes it.',
  })
  @Roles('owner', 'admin')
  @ApiOkResponse({ type: UserDto })
  update(
    @Caller() caller: CallerContext,
    @Param('id', UuidParamPipe) id: string,
    @Body() dto: UpdateUserDto,
  ): Promise<UserDto> {
    return this.users.update(actorOf(caller), id, dto);
  }

  @Post('users/:id/deactivate')
  @ApiOperation({
    summary: 'Deactivate a user',
    description:
      'A state change, not a deletion: the user can no longer log in, their sessions end at once and their live access tokens are ' +
      'refused within seconds. Deactivating a deactivated user changes nothing.',
  })
  @Roles('owner', 'admin')
  @HttpCode(200)
  @ApiOkResponse({ type: UserDto })
  deactivate(@Caller() caller: CallerContext, @Param('id', UuidParamPipe) id: string, @Body(NoBodyPipe) _body: unknown): Promise<UserDto> {
    return this.users.deactivate(actorOf(caller), id);
  }
}
