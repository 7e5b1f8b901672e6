import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { FakeIdentity } from './fake-identity';
import { startGateway, testConfig } from './gateway-harness';

/** Limits are per gateway instance (memory store), so each case gets a fresh gateway with small limits. */
describe('gateway rate limits', () => {
  let identity: FakeIdentity;
  let app: NestExpressApplication | undefined;

  beforeAll(async () => {
    identity = await new FakeIdentity().init();
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  afterAll(async () => {
    await identity.stop();
  });

  const limits = (address: number, auth: number, tenant: number) => ({
    address: { points: address, windowSeconds: 60 },
    auth: { points: auth, windowSeconds: 60 },
    tenant: { points: tenant, windowSeconds: 60 },
  });

  const expect429 = (res: request.Response) => {
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.headers['ratelimit-remaining']).toBe('0');
    expect(res.body.code).toBe('too_many_requests');
  };

  it('limits every request per client address, with RateLimit headers', async () => {
    app = await startGateway(testConfig(identity.url, { rateLimits: limits(3, 100, 100) }));
    const http = request(app.getHttpServer());
    const first = await http.get('/openapi.json');
    expect(first.headers['ratelimit-limit']).toBe('3');
    expect(first.headers['ratelimit-remaining']).toBe('2');
    await http.get('/v1/users');
    await http.get('/docs');
    expect429(await http.get('/v1/users'));
    // Probes are never limited.
    expect((await http.get('/health/live')).status).toBe(200);
  });

  it('counts an IPv6 client by its /64 and an IPv4-mapped one as its IPv4 address', async () => {
    // Behind one trusted proxy, so the test can name the client in X-Forwarded-For.
    app = await startGateway({ ...testConfig(identity.url, { rateLimits: limits(3, 100, 100) }), trustProxyHops: 1 });
    const http = request(app.getHttpServer());
    for (const client of ['2001:db8:0:9::1', '2001:db8:0:9::2', '2001:db8:0:9:abcd::3'])
      expect((await http.get('/openapi.json').set('x-forwarded-for', client)).status).toBe(200);
    expect429(await http.get('/openapi.json').set('x-forwarded-for', '2001:db8:0:9:ffff:ffff:ffff:ffff'));
    expect((await http.get('/openapi.json').set('x-forwarded-for', '2001:db8:0:a::1')).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await http.get('/openapi.json').set('x-forwarded-for', '198.51.100.9')).status).toBe(200);
    expect429(await http.get('/openapi.json').set('x-forwarded-for', '::ffff:198.51.100.9'));
  });

  it('limits signup and login more strictly per address', async () => {
    app = await startGateway(testConfig(identity.url, { rateLimits: limits(100, 2, 100) }));
    const http = request(app.getHttpServer());
    expect((await http.post('/v1/auth/login').send({ email: 'a@b.c', password: 'x' })).status).toBe(200);
    expect((await http.post('/v1/tenants').send({ name: 'T' })).status).toBe(200);
    expect429(await http.post('/v1/auth/login').send({ email: 'a@b.c', password: 'x' }));
    // Spelled with a doubled or trailing slash, which the service would route the same way, they get no further.
    // Nor in another case, which Express routes the same way too (a token does not make it an ordinary route).
    const token = await identity.token({ tid: 'tenant-a' });
    for (const path of ['/v1/auth/LOGIN', '/v1/Auth/Login/', '/v1/TENANTS'])
      expect429(await http.post(path).set('authorization', `Bearer ${token}`).send({ email: 'a@b.c', password: 'x' }));
    // (`//` is refused as a path before the limit is looked at; a trailing slash is the limited route itself.)
    const expected: Record<string, number> = { '/v1/auth//login': 400, '/v1/auth/login/': 429, '/v1/tenants//': 400, '/v1/tenants/': 429 };
    for (const [path, status] of Object.entries(expected)) {
      expect([path, (await http.post(path).send({ email: 'a@b.c', password: 'x' })).status]).toEqual([path, status]);
    }
    expect(identity.received('/v1/auth/login')).toHaveLength(1);
    expect(identity.requests.filter((r) => r.method === 'POST' && /^\/v1\/(auth|tenants)/.test(r.url))).toHaveLength(2);
    // Other routes from the same address still pass.
    expect((await http.get('/.well-known/jwks.json')).status).toBe(200);
  });

  it('limits each tenant on its own', async () => {
    app = await startGateway(testConfig(identity.url, { rateLimits: limits(100, 100, 2) }));
    const http = request(app.getHttpServer());
    const tenantA = await identity.token({ tid: 'tenant-a' });
    const tenantB = await identity.token({ tid: 'tenant-b' });
    for (let i = 0; i < 2; i++) expect((await http.get('/v1/me').set('authorization', `Bearer ${tenantA}`)).status).toBe(200);
    const limited = await http.get('/v1/me').set('authorization', `Bearer ${tenantA}`);
    expect429(limited);
    expect(limited.body.detail).toContain('tenant');
    expect((await http.get('/v1/me').set('authorization', `Bearer ${tenantB}`)).status).toBe(200);
  });
});
