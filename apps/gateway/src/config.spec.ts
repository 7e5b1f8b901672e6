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
  });

  it('reads limits and upstream URLs from the environment', () => {
    const config = loadGatewayConfig({
      INTERNAL_TOKEN_SECRET: secret,
      IDENTITY_URL: 'http://identity.internal:8080/',
      RATE_LIMIT_TENANT_POINTS: '50',
      UPSTREAM_TIMEOUT_MS: '2500',
    });
    expect(config.identityUrl).toBe('http://identity.internal:8080');
    expect(config.upstreams[0].url).toBe('http://identity.internal:8080');
    expect(config.rateLimits.tenant).toEqual({ points: 50, windowSeconds: 60 });
    expect(config.upstreamTimeoutMs).toBe(2500);
    expect(config.upstreams[0].timeoutMs).toBe(2500);
  });

  it('fails naming each bad variable', () => {
    const attempt = () => loadGatewayConfig({ INTERNAL_TOKEN_SECRET: 'short', IDENTITY_URL: 'ftp://x', BODY_LIMIT_BYTES: '-1' });
    expect(attempt).toThrow(ConfigurationError);
    expect(attempt).toThrow(/INTERNAL_TOKEN_SECRET/);
    expect(attempt).toThrow(/IDENTITY_URL/);
    expect(attempt).toThrow(/BODY_LIMIT_BYTES/);
  });
});
