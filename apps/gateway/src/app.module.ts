import type { IncomingMessage } from 'node:http';
import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { AccessTokenVerifier } from './auth/access-token-verifier';
import { ApiKeyVerifier } from './auth/api-key-verifier';
import { Authenticator } from './auth/authenticator';
import { TenantStatusLookup } from './auth/tenant-status';
import { UserStatusLookup } from './auth/user-status';
import { serviceSigner, type CallerContextSigner, type ServiceContextSigner } from './auth/caller-context-signer';
import type { GatewayConfig } from './config';
import { CALLER_CONTEXT_SIGNER, GATEWAY_CONFIG, GATEWAY_LOGGER } from './gateway.tokens';
import { OpenApiAggregator } from './openapi/openapi-aggregator';
import { GatewayPipeline } from './proxy/gateway-pipeline';
import { UpstreamProxy } from './proxy/upstream-proxy';
import { RateLimits } from './rate-limit/rate-limiter';

/** Lifetime of the caller-context tokens the gateway signs (docs/architecture.md). */
const CALLER_CONTEXT_TTL_SECONDS = 60;

/**
 * The gateway's parts, wired from its configuration. Health, metrics, logging and the problem filter come from
 * ServiceKitModule; the request pipeline runs as Express middleware (see gateway-app.ts).
 */
@Module({})
export class AppModule {
  static forRoot(config: GatewayConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: GATEWAY_LOGGER, useValue: logger },
        {
          provide: CALLER_CONTEXT_SIGNER,
          useValue: serviceSigner(config.internalTokenSecret, CALLER_CONTEXT_TTL_SECONDS),
        },
        {
          provide: Authenticator,
          inject: [CALLER_CONTEXT_SIGNER],
          useFactory: (signFor: ServiceContextSigner) => {
            // Everything the authenticator asks, it asks identity.
            const sign: CallerContextSigner = (context) => signFor(context, 'identity');
            return new Authenticator(
              new AccessTokenVerifier(
                config.identityUrl,
                { jwksCacheMaxAgeMs: config.jwksCacheMaxAgeMs, verifiedCache: config.accessTokenCache },
                sign,
              ),
              new ApiKeyVerifier(config.identityUrl, sign, config.apiKeyCache),
              new TenantStatusLookup(config.identityUrl, sign, config.tenantStatusCache),
              new UserStatusLookup(config.identityUrl, sign, config.userStatusCache),
            );
          },
        },
        { provide: RateLimits, useFactory: () => new RateLimits(config.rateLimits) },
        {
          provide: UpstreamProxy,
          useFactory: () =>
            new UpstreamProxy(config.upstreams, {
              timeoutMs: config.upstreamTimeoutMs,
              bodyLimitBytes: config.bodyLimitBytes,
              keepAliveTimeoutMs: config.keepAliveTimeoutMs,
              onFailure: (req, upstream, problem, error) =>
                ((req as IncomingMessage & { log?: Logger }).log ?? logger).warn(
                  { status: problem.status, err: error },
                  `Upstream ${upstream} failed: ${problem.detail ?? problem.status}`,
                ),
            }),
        },
        {
          provide: GatewayPipeline,
          inject: [Authenticator, RateLimits, CALLER_CONTEXT_SIGNER, UpstreamProxy],
          useFactory: (auth: Authenticator, limits: RateLimits, sign: ServiceContextSigner, proxy: UpstreamProxy) =>
            new GatewayPipeline(config.upstreams, auth, limits, sign, proxy),
        },
        {
          provide: OpenApiAggregator,
          inject: [CALLER_CONTEXT_SIGNER],
          useFactory: (sign: ServiceContextSigner) => new OpenApiAggregator(config.upstreams, sign, config.openApiRefreshMs),
        },
      ],
    };
  }
}
