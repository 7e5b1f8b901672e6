import { Body, Controller, Get, Header, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Public } from '@tessera/service-kit';
import { clientAddress } from '../common/client-address';
import { AccessTokenIssuer } from './access-token.issuer';
import { AuthService, TooManyAttemptsProblem } from './auth.service';
import { JwksDto, LoginDto, RefreshDto, TokenPairDto } from './dto/auth.dto';

@ApiTags('auth')
@Controller()
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly issuer: AccessTokenIssuer,
  ) {}

  @Post('v1/auth/login')
  @ApiOperation({
    summary: 'Log in',
    description:
      'Exchanges an email and password for an access token and a refresh token. Failed logins are limited per account and per client ' +
      'address: past the limit every attempt gets 429 with Retry-After, whatever the password.',
  })
  @Public()
  @HttpCode(200)
  @ApiOkResponse({ type: TokenPairDto })
  @ApiUnauthorizedResponse({ description: 'unknown email, wrong password or deactivated user (one answer for all)' })
  @ApiTooManyRequestsResponse({
    description: 'too many failed logins for this account or address',
    headers: { 'Retry-After': { description: 'seconds until a login is tried again', schema: { type: 'integer' } } },
  })
  async login(
    @Body() dto: LoginDto,
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<TokenPairDto> {
    try {
      return await this.auth.login(dto.email, dto.password, clientAddress(req));
    } catch (e) {
      if (e instanceof TooManyAttemptsProblem) res.setHeader('Retry-After', String(e.retryAfterSeconds));
      throw e;
    }
  }

  @Post('v1/auth/refresh')
  @ApiOperation({
    summary: 'Refresh an access token',
    description:
      'Rotates the refresh token: the answer holds a new pair and the token sent stops working. ' +
      'Presenting an already rotated token again revokes its whole session.',
  })
  @Public()
  @HttpCode(200)
  @ApiOkResponse({ type: TokenPairDto })
  @ApiUnauthorizedResponse({
    description: 'unknown, expired, revoked or already rotated token (reuse revokes the family)',
  })
  refresh(@Body() dto: RefreshDto): Promise<TokenPairDto> {
    return this.auth.refresh(dto.refreshToken);
  }

  /** Logs the session out: the refresh token and every token rotated from the same login stop working. */
  @Post('v1/auth/logout')
  @ApiOperation({
    summary: 'Log out',
    description:
      'Revokes the session: the refresh token and every token rotated from the same login stop working, while access tokens already ' +
      'issued live out their lifetime. An unknown, expired or already revoked token gets the same 204.',
  })
  @Public()
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'the session is over; also for a token that was unknown, expired or revoked already' })
  async logout(@Body() dto: RefreshDto): Promise<void> {
    await this.auth.logout(dto.refreshToken);
  }

  /**
   * Public keys only, so no caller context is required: the gateway fetches this to verify access tokens, and
   * anyone may verify a token with them.
   */
  @Get('.well-known/jwks.json')
  @ApiOperation({
    summary: 'Get the token signing keys',
    description: "The public keys (JWK Set) that verify the platform's access tokens; anyone may fetch them and cache them for 5 minutes.",
  })
  @Public()
  @Header('Cache-Control', 'public, max-age=300')
  @ApiOkResponse({ type: JwksDto })
  jwks(): ReturnType<AccessTokenIssuer['jwks']> {
    return this.issuer.jwks();
  }
}
