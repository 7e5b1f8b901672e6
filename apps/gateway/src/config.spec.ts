import { ConfigurationError } from '@tessera/service-kit';
import { loadGatewayConfig } from './config';

describe('loadGatewayConfig', () => {
  const secret = 'x'.repeat(32);

  it('defaults to port 3000 and identity on 3101', () => {
    const config = loadGatewayConfig({ INTERNAL_TOKEN_SECRET: secret });
    expect(config.port).toBe(3000);
    expect(config.identityUrl).toBe('http://127.0.0.1:3101');
    expect(config.upstreams.find((u) => u.name === 'identity')?.prefixes).toContain('/v1/tenants');
    expect(config.apiKeyCache.ttlMs).toBe(30_000);
    expect(config.tenantStatusCache).toEqual({ ttlMs: 5_000, maxEntries: 10_000 });
  });

  it('reads TENANT_STATUS_CACHE_TTL_MS and refuses a value that is not a short positive duration', () => {
    const read = (value: string) => loadGatewayConfig({ INTERNAL_TOKEN_SECRET: secret, TENANT_STATUS_CACHE_TTL_MS: value });
    expect(read('2000').tenantStatusCache.ttlMs).toBe(2000);
    expect(read('60000').tenantStatusCache.ttlMs).toBe(60_000);
    for (const bad of ['0', '-5', '1.5', 'soon', '60001']) {
      expect(() => read(bad)).toThrow(ConfigurationError);
      expect(() => read(bad)).toThrow(/TENANT_STATUS_CACHE_TTL_MS/);
    }
  });

  it('serves metrics on METRICS_PORT (default 9464, 0 for any free port) and refuses a port that is not one', () => {
    const read = (value?: string) => loadGatewayConfig({ INTERNAL_TOKEN_SECRET: secret, ...(value === undefined ? {} : { METRICS_PORT: value }) });
    expect(read().metricsPort).toBe(9464);
    expect(read('0').metricsPort).toBe(0);
    expect(read('9100').metricsPort).toBe(9100);
    for (const bad of ['-1', '65536', '80.5', 'nine']) expect(() => read(bad)).toThrow(/METRICS_PORT/);
  });

  it('reads limits and upstream URLs from the environment', () => {
    const config = loadGatewayConfig({
      INTERNAL_TOKEN_SECRET: secret,
      IDENTITY_URL: 'http://identity.internal:8080/',
      RATE_LIMIT_TENANT_POINTS: '50',
      UPSTREAM_TIMEOUT_MS: '2500',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '75000',
    });
    expect(config.identityUrl).toBe('http://identity.internal:8080');
    expect(config.upstreams[0].url).toBe('http://identity.internal:8080');
    expect(config.rateLimits.tenant).toEqual({ points: 50, windowSeconds: 60 });
    expect(config.upstreamTimeoutMs).toBe(2500);
    expect(config.upstreams[0].timeoutMs).toBe(2500);
    expect(config.keepAliveTimeoutMs).toBe(75_000);
  });

  it('refuses a millisecond variable beyond 2147483647 (Node would fire its timer after 1 ms), naming it', () => {
    const names = [
      'SHUTDOWN_TIMEOUT_MS',
      'UPSTREAM_TIMEOUT_MS',
      'HTTP_KEEP_ALIVE_TIMEOUT_MS',
      'API_KEY_CACHE_TTL_MS',
      'JWKS_CACHE_MAX_AGE_MS',
      'ACCESS_TOKEN_CACHE_TTL_MS',
      'OPENAPI_REFRESH_MS',
    ];
    const longest = loadGatewayConfig({ INTERNAL_TOKEN_SECRET: secret, ...Object.fromEntries(names.map((n) => [n, '2147483647'])) });
    expect(longest.upstreamTimeoutMs).toBe(2_147_483_647);
    expect(longest.shutdownTimeoutMs).toBe(2_147_483_647);
    for (const name of names) {
      const attempt = () => loadGatewayConfig({ INTERNAL_TOKEN_SECRET: secret, [name]: '3000000000' });
      expect(attempt).toThrow(ConfigurationError);
      expect(attempt).toThrow(new RegExp(`${name}: .*2147483647`));
    }
  });

  it('fails naming each bad variable', () => {
    const attempt = () => loadGatewayConfig({ INTERNAL_TOKEN_SECRET: 'short', IDENTITY_URL: 'ftp://x', BODY_LIMIT_BYTES: '-1' });
    expect(attempt).toThrow(ConfigurationError);
    expect(attempt).toThrow(/INTERNAL_TOKEN_SECRET/);
    expect(attempt).toThrow(/IDENTITY_URL/);
    expect(attempt).toThrow(/BODY_LIMIT_BYTES/);
  });
});
