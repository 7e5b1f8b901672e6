import { baseConfigSchema, loadConfig, millisecondsSchema, type LogLevel } from '@tessera/service-kit';
import { z } from 'zod';
import { UPSTREAMS, type Upstream, type UpstreamDefinition } from './proxy/route-table';

const int = (fallback: number) => z.coerce.number().int().positive().default(fallback);
/** A duration that sets a timer: capped at Node's longest (millisecondsSchema). */
const ms = (fallback: number) => millisecondsSchema.default(fallback);

/**
 * Environment of the gateway (docs/architecture.md, "Configuration"): the service-kit base (PORT defaults to 3000,
 * LOG_LEVEL, INTERNAL_TOKEN_SECRET, SHUTDOWN_TIMEOUT_MS), one URL per upstream, and limits with defaults.
 */
export const gatewayEnvSchema = baseConfigSchema.extend({
  /**
   * The gateway's Prometheus endpoint, on a port of its own: `PORT` is the public door, and platform metrics are not
   * for the public (services serve theirs on their own, internal, ports). 0: any free port.
   */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** The address the metrics port listens on; unset, every interface. `npm start` gives 127.0.0.1. */
  METRICS_HOST: z.string().trim().min(1).optional(),
  /** Express `trust proxy` hop count: 0 means the client address is the socket's peer. */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).default(0),
  UPSTREAM_TIMEOUT_MS: ms(10_000),
  /**
   * How long an idle client connection stays open. Longer than the idle timeout of the load balancer or client pool
   * in front (60 s on most), so that side closes first: a server that closes first races the client's next request
   * on that socket, which then fails with a reset. Node's own default is 5 s.
   */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: ms(65_000),
  BODY_LIMIT_BYTES: int(1_048_576),
  /** Every request from one client address (per gateway instance: the store is in memory). */
  RATE_LIMIT_ADDRESS_POINTS: int(600),
  RATE_LIMIT_ADDRESS_WINDOW_S: int(60),
  /** Login and signup from one client address. */
  RATE_LIMIT_AUTH_POINTS: int(20),
  RATE_LIMIT_AUTH_WINDOW_S: int(60),
  /** Authenticated requests of one tenant. */
  RATE_LIMIT_TENANT_POINTS: int(1200),
  RATE_LIMIT_TENANT_WINDOW_S: int(60),
  API_KEY_CACHE_TTL_MS: ms(30_000),
  API_KEY_CACHE_MAX_ENTRIES: int(10_000),
  /**
   * How long a tenant's status (from identity) is reused: a suspension refuses the tenant's calls, and a
   * reactivation accepts them again, within this long. At most a minute, so it stays a short bound.
   */
  TENANT_STATUS_CACHE_TTL_MS: millisecondsSchema.max(60_000).default(5_000),
  TENANT_STATUS_CACHE_MAX_ENTRIES: int(10_000),
  /**
   * How long a user's status and role (from identity) are reused: a deactivated user's access token, or one whose
   * role changed, is refused within this long rather than when it expires (15 minutes). At most a minute.
   */
  USER_STATUS_CACHE_TTL_MS: millisecondsSchema.max(60_000).default(5_000),
  USER_STATUS_CACHE_MAX_ENTRIES: int(50_000),
  JWKS_CACHE_MAX_AGE_MS: ms(600_000),
  /** Verified access tokens are reused until their expiry, for at most this long. */
  ACCESS_TOKEN_CACHE_TTL_MS: ms(60_000),
  ACCESS_TOKEN_CACHE_MAX_ENTRIES: int(10_000),
  OPENAPI_REFRESH_MS: ms(60_000),
  ...Object.fromEntries(UPSTREAMS.map((u) => [u.urlEnv, z.url({ protocol: /^https?$/ }).default(u.defaultUrl)])),
});

export interface GatewayConfig {
  port: number;
  /** The public port's address (HOST); unset, every interface. */
  host?: string;
  /** Where `/metrics` is served (not on `port`). */
  metricsPort: number;
  metricsHost?: string;
  logLevel: LogLevel;
  shutdownTimeoutMs: number;
  internalTokenSecret: string;
  trustProxyHops: number;
  upstreamTimeoutMs: number;
  keepAliveTimeoutMs: number;
  bodyLimitBytes: number;
  rateLimits: {
    address: RateLimitRule;
    auth: RateLimitRule;
    tenant: RateLimitRule;
  };
  apiKeyCache: { ttlMs: number; maxEntries: number };
  tenantStatusCache: { ttlMs: number; maxEntries: number };
  userStatusCache: { ttlMs: number; maxEntries: number };
  jwksCacheMaxAgeMs: number;
  accessTokenCache: { ttlMs: number; maxEntries: number };
  openApiRefreshMs: number;
  upstreams: Upstream[];
  /** Base URL of identity: JWKS and API key verification. */
  identityUrl: string;
}

export interface RateLimitRule {
  points: number;
  windowSeconds: number;
}

type GatewayEnv = z.infer<typeof gatewayEnvSchema> & Record<string, string>;

/** Parses the environment; throws a ConfigurationError naming every bad variable. */
export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const e = loadConfig(gatewayEnvSchema, env) as GatewayEnv;
  const upstreams = UPSTREAMS.map((u: UpstreamDefinition) => ({
    name: u.name,
    url: stripSlash(e[u.urlEnv]),
    prefixes: u.prefixes,
    timeoutMs: u.timeoutMs ?? e.UPSTREAM_TIMEOUT_MS,
  }));
  return {
    port: e.PORT,
    host: e.HOST,
    metricsPort: e.METRICS_PORT,
    metricsHost: e.METRICS_HOST,
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    internalTokenSecret: e.INTERNAL_TOKEN_SECRET,
    trustProxyHops: e.TRUST_PROXY_HOPS,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    rateLimits: {
      address: { points: e.RATE_LIMIT_ADDRESS_POINTS, windowSeconds: e.RATE_LIMIT_ADDRESS_WINDOW_S },
      auth: { points: e.RATE_LIMIT_AUTH_POINTS, windowSeconds: e.RATE_LIMIT_AUTH_WINDOW_S },
      tenant: { points: e.RATE_LIMIT_TENANT_POINTS, windowSeconds: e.RATE_LIMIT_TENANT_WINDOW_S },
    },
    apiKeyCache: { ttlMs: e.API_KEY_CACHE_TTL_MS, maxEntries: e.API_KEY_CACHE_MAX_ENTRIES },
    tenantStatusCache: { ttlMs: e.TENANT_STATUS_CACHE_TTL_MS, maxEntries: e.TENANT_STATUS_CACHE_MAX_ENTRIES },
    userStatusCache: { ttlMs: e.USER_STATUS_CACHE_TTL_MS, maxEntries: e.USER_STATUS_CACHE_MAX_ENTRIES },
    jwksCacheMaxAgeMs: e.JWKS_CACHE_MAX_AGE_MS,
    accessTokenCache: { ttlMs: e.ACCESS_TOKEN_CACHE_TTL_MS, maxEntries: e.ACCESS_TOKEN_CACHE_MAX_ENTRIES },
    openApiRefreshMs: e.OPENAPI_REFRESH_MS,
    upstreams,
    identityUrl: stripSlash(e.IDENTITY_URL),
  };
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
