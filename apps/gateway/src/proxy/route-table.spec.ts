import { findUpstream, UPSTREAMS } from './route-table';

describe('route table', () => {
  const upstreams = UPSTREAMS.map((u) => ({ name: u.name, url: u.defaultUrl, prefixes: u.prefixes }));

  it('routes whole path segments of each prefix', () => {
    expect(findUpstream(upstreams, '/v1/users')?.name).toBe('identity');
    expect(findUpstream(upstreams, '/v1/users/42/deactivate')?.name).toBe('identity');
    expect(findUpstream(upstreams, '/.well-known/jwks.json')?.name).toBe('identity');
    expect(findUpstream(upstreams, '/v1/usersx')).toBeUndefined();
    expect(findUpstream(upstreams, '/internal/api-keys/verify')).toBeUndefined();
  });

  it('gives every upstream a URL variable and a default', () => {
    for (const upstream of UPSTREAMS) {
      expect(upstream.urlEnv).toMatch(/^[A-Z_]+_URL$/);
      expect(new URL(upstream.defaultUrl).protocol).toBe('http:');
    }
  });
});
