import type { NestExpressApplication } from '@nestjs/platform-express';
import { CONTEXT_HEADER } from '@tessera/contracts';
import { serviceContextKey, signCallerContext, verifyCallerContext } from '@tessera/service-kit';
import { base64url, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import { FakeIdentity, IDENTITY_KEY, TEST_SECRET } from './fake-identity';
import { startGateway, testConfig } from './gateway-harness';

/** Authentication at the gateway against a real local identity stand-in (JWKS and API key verify over HTTP). */
describe('gateway authentication', () => {
  let identity: FakeIdentity;
  let app: NestExpressApplication;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    identity = await new FakeIdentity().init();
    identity.apiKeys.set('tsk_live_good', { apiKeyId: 'key-1', tenantId: 'tenant-9', scopes: ['orders:read'], tenantStatus: 'active' });
    identity.apiKeys.set('tsk_live_suspended', { apiKeyId: 'key-2', tenantId: 'tenant-8', scopes: [], tenantStatus: 'suspended' });
    app = await startGateway(testConfig(identity.url));
    http = request(app.getHttpServer());
  });

  afterAll(async () => {
    await app.close();
    await identity.stop();
  });

  beforeEach(() => identity.requests.splice(0));

  async function forwardedContext(headers: Record<string, unknown>) {
    return verifyCallerContext(String(headers[CONTEXT_HEADER]), IDENTITY_KEY);
  }

  it("signs what it forwards with the key of the service it goes to, which neither the secret nor another service's key verifies", async () => {
    // The catalog upstream pointed at the identity stand-in, which echoes what it receives.
    const config = testConfig(identity.url);
    config.upstreams = config.upstreams.map((u) => (u.name === 'catalog' ? { ...u, url: identity.url } : u));
    const gateway = await startGateway(config);
    try {
      const token = await identity.token({ sub: 'user-3', tid: 'tenant-3', roles: ['viewer'] });
      const res = await request(gateway.getHttpServer()).get('/v1/products').set('authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      const forwarded = String(res.body.headers[CONTEXT_HEADER]);
      expect(await verifyCallerContext(forwarded, serviceContextKey(TEST_SECRET, 'catalog'))).toMatchObject({ tenantId: 'tenant-3', principalId: 'user-3' });
      for (const key of [TEST_SECRET, IDENTITY_KEY, serviceContextKey(TEST_SECRET, 'orders')]) {
        await expect(verifyCallerContext(forwarded, key)).rejects.toThrow();
      }
    } finally {
      await gateway.close();
    }
  });

  it('forwards a valid JWT caller as a signed context with tenant, user and roles', async () => {
    const token = await identity.token({ sub: 'user-42', tid: 'tenant-7', roles: ['manager', 'not-a-role'] });
    const res = await http
      .get('/v1/users?limit=5')
      .set('authorization', `Bearer ${token}`)
      .set('x-request-id', 'client-req-1')
      .set('x-forwarded-for', '203.0.113.66');

    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('client-req-1');
    expect(res.body.url).toBe('/v1/users?limit=5');
    const context = await forwardedContext(res.body.headers);
    expect(context).toEqual({
      requestId: 'client-req-1',
      tenantId: 'tenant-7',
      principalId: 'user-42',
      principalType: 'user',
      roles: ['manager'],
      scopes: [],
    });
    expect(res.body.headers['x-request-id']).toBe('client-req-1');
    // The address the gateway accepted the connection from, not the client's claim (identity throttles by it).
    expect(res.body.headers['x-forwarded-for']).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(res.body.headers.authorization).toBeUndefined();
  });

  it('replaces a client-supplied x-tessera-context, on authenticated and public routes', async () => {
    const forged = await signCallerContext(
      { requestId: 'r', tenantId: 'other-tenant', principalId: 'root', principalType: 'user', roles: ['owner'], scopes: [] },
      IDENTITY_KEY,
    );
    const token = await identity.token({ sub: 'user-1', tid: 'tenant-1', roles: ['viewer'] });
    const res = await http.get('/v1/me').set('authorization', `Bearer ${token}`).set(CONTEXT_HEADER, forged);
    expect(res.status).toBe(200);
    expect(res.body.headers[CONTEXT_HEADER]).not.toBe(forged);
    expect(await forwardedContext(res.body.headers)).toMatchObject({ tenantId: 'tenant-1', roles: ['viewer'] });

    const login = await http.post('/v1/auth/login').set(CONTEXT_HEADER, forged).send({ email: 'a@b.c', password: 'pw' });
    expect(login.status).toBe(200);
    const anonymous = await forwardedContext(login.body.headers);
    expect(anonymous.principalType).toBe('anonymous');
    expect(anonymous.tenantId).toBeUndefined();
  });

  it('streams a public route body untouched with an anonymous context', async () => {
    const body = '{"email":"owner@example.com",  "password":"s3cret"}';
    const res = await http.post('/v1/auth/login').set('content-type', 'application/json').send(body);
    expect(res.status).toBe(200);
    expect(res.body.body).toBe(body);
    expect((await forwardedContext(res.body.headers)).principalType).toBe('anonymous');
  });

  it('forwards refresh and logout without credentials, as a client whose access token expired must reach them', async () => {
    for (const path of ['/v1/auth/refresh', '/v1/auth/logout']) {
      const res = await http.post(path).send({ refreshToken: 'r' });
      expect([path, res.status]).toEqual([path, 200]);
      expect((await forwardedContext(res.body.headers)).principalType).toBe('anonymous');
    }
  });

  it('serves the JWKS without credentials', async () => {
    const res = await http.get('/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body.keys[0].kid).toBe(identity.kid);
  });

  describe('refuses with 401 problem+json and never calls the upstream', () => {
    const refused = async (headers: Record<string, string>) => {
      const req = http.get('/v1/users');
      for (const [name, value] of Object.entries(headers)) req.set(name, value);
      const res = await req;
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 401, code: 'unauthorized', instance: '/v1/users' });
      expect(identity.received('/v1/users')).toHaveLength(0);
      return res;
    };

    it('no credentials', async () => {
      await refused({});
    });

    it('an expired token', async () => {
      const token = await identity.token({}, { expiresIn: Math.floor(Date.now() / 1000) - 60 });
      const res = await refused({ authorization: `Bearer ${token}` });
      expect(res.body.detail).toMatch(/expired/);
    });

    it('a tampered token', async () => {
      const [header, payload, signature] = (await identity.token({ roles: ['viewer'] })).split('.');
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
      const forgedPayload = base64url.encode(JSON.stringify({ ...claims, roles: ['owner'] }));
      await refused({ authorization: `Bearer ${header}.${forgedPayload}.${signature}` });
    });

    it('a token signed by an unknown key (wrong kid)', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const token = await identity.token({}, { kid: 'unknown-kid', key: privateKey });
      await refused({ authorization: `Bearer ${token}` });
    });

    it('a token with the right kid but another key', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      await refused({ authorization: `Bearer ${await identity.token({}, { key: privateKey })}` });
    });

    it('alg: none', async () => {
      const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT', kid: identity.kid }));
      const exp = Math.floor(Date.now() / 1000) + 300;
      const payload = base64url.encode(
        JSON.stringify({ sub: 'user-1', tid: 'tenant-1', roles: ['owner'], iss: 'tessera-identity', aud: 'tessera', exp }),
      );
      await refused({ authorization: `Bearer ${header}.${payload}.` });
    });

    it('HS256 signed with the public key as the secret', async () => {
      const secret = new TextEncoder().encode(JSON.stringify(identity.publicJwk));
      const token = await new SignJWT({ tid: 'tenant-1', roles: ['owner'] })
        .setProtectedHeader({ alg: 'HS256', kid: identity.kid })
        .setSubject('user-1')
        .setIssuer('tessera-identity')
        .setAudience('tessera')
        .setExpirationTime('5m')
        .sign(secret);
      await refused({ authorization: `Bearer ${token}` });
    });

    it('a wrong issuer', async () => {
      await refused({ authorization: `Bearer ${await identity.token({}, { issuer: 'someone-else' })}` });
    });

    it('a token without a tenant', async () => {
      await refused({ authorization: `Bearer ${await identity.token({ tid: undefined })}` });
    });

    it('a non-Bearer scheme and garbage', async () => {
      await refused({ authorization: 'Basic dXNlcjpwYXNz' });
      await refused({ authorization: 'Bearer not.a.jwt' });
    });

    it('an unknown API key', async () => {
      await refused({ 'x-api-key': 'tsk_live_unknown' });
    });
  });

  it("answers 503, and caches nothing, when identity refuses the gateway's own credential rather than the key", async () => {
    identity.apiKeys.set('tsk_live_refused_once', { apiKeyId: 'key-3', tenantId: 'tenant-9', scopes: [], tenantStatus: 'active' });
    identity.expiredContextRefusals = 1;
    const refused = await http.get('/v1/stores').set('x-api-key', 'tsk_live_refused_once');
    expect(refused.status).toBe(503);
    expect((await http.get('/v1/stores').set('x-api-key', 'tsk_live_refused_once')).status).toBe(200);
    // A gateway whose secret identity does not share: its API key callers are not told their keys are invalid.
    const misconfigured = await startGateway(testConfig(identity.url, { internalTokenSecret: 'another-secret-of-at-least-32-characters' }));
    try {
      expect((await request(misconfigured.getHttpServer()).get('/v1/stores').set('x-api-key', 'tsk_live_good')).status).toBe(503);
    } finally {
      await misconfigured.close();
    }
  });

  it('accepts an API key in X-Api-Key and as a Bearer token, verifying it once per cache window', async () => {
    const viaHeader = await http.get('/v1/stores').set('x-api-key', 'tsk_live_good');
    expect(viaHeader.status).toBe(200);
    expect(await forwardedContext(viaHeader.body.headers)).toMatchObject({
      tenantId: 'tenant-9',
      principalId: 'key-1',
      principalType: 'api_key',
      roles: [],
      scopes: ['orders:read'],
    });
    expect(viaHeader.body.headers['x-api-key']).toBeUndefined();

    const viaBearer = await http.get('/v1/stores').set('authorization', 'Bearer tsk_live_good');
    expect(viaBearer.status).toBe(200);
    expect((await forwardedContext(viaBearer.body.headers)).principalId).toBe('key-1');
    // The verify call carried an anonymous context (identity refuses it otherwise) and the answer was cached.
    expect(identity.received('/internal/api-keys/verify')).toHaveLength(1);
  });

  it("refuses a suspended tenant with 403, by token and by API key, from identity's current status", async () => {
    identity.tenantStatuses.set('tenant-8', 'suspended');
    const token = await identity.token({ tid: 'tenant-8', tenant_status: 'active' });
    const byToken = await http.get('/v1/users').set('authorization', `Bearer ${token}`);
    expect(byToken.status).toBe(403);
    expect(byToken.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(byToken.body).toMatchObject({ status: 403, title: 'Tenant suspended' });

    const byKey = await http.get('/v1/users').set('x-api-key', 'tsk_live_suspended');
    expect(byKey.status).toBe(403);
    expect(identity.received('/v1/users')).toHaveLength(0);
    // One status lookup for both (cached per tenant), with the gateway's anonymous context (the fake checks it).
    expect(identity.statusLookups('tenant-8')).toHaveLength(1);
  });

  it('logs each request as JSON with its request id, tenant and user', async () => {
    const lines: string[] = [];
    const logged = await startGateway(testConfig(identity.url, { logLevel: 'info' }), {
      logDestination: { write: (line: string) => void lines.push(line) },
    });
    try {
      const token = await identity.token({ sub: 'user-log', tid: 'tenant-log' });
      await request(logged.getHttpServer()).get('/v1/me').set('authorization', `Bearer ${token}`).set('x-request-id', 'log-req-1');
      const entry = lines.map((line) => JSON.parse(line)).find((e) => e.requestId === 'log-req-1' && e.res);
      expect(entry).toMatchObject({ tenantId: 'tenant-log', userId: 'user-log', upstream: 'identity', res: { statusCode: 200 } });
      expect(JSON.stringify(entry)).not.toContain(token);
    } finally {
      await logged.close();
    }
  });

  it('never logs a Proxy-Authorization value, on requests forwarded or refused', async () => {
    const lines: string[] = [];
    const logged = await startGateway(testConfig(identity.url, { logLevel: 'info' }), {
      logDestination: { write: (line: string) => void lines.push(line) },
    });
    const secret = 'Basic cHJveHktdXNlcjpwcm94eS1zZWNyZXQ=';
    try {
      const token = await identity.token({ sub: 'user-proxy-auth' });
      const server = logged.getHttpServer();
      const forwarded = await request(server).get('/v1/me').set('authorization', `Bearer ${token}`).set('proxy-authorization', secret).set('x-request-id', 'pa-forwarded');
      expect(forwarded.status).toBe(200);
      const refused = await request(server).get('/v1/users').set('proxy-authorization', secret).set('x-request-id', 'pa-refused');
      expect(refused.status).toBe(401);
      const entries = lines.map((line) => JSON.parse(line));
      expect(entries.filter((e) => e.res && ['pa-forwarded', 'pa-refused'].includes(e.requestId))).toHaveLength(2);
      expect(lines.join('\n')).not.toContain('cHJveHktdXNlcjpwcm94eS1zZWNyZXQ');
    } finally {
      await logged.close();
    }
  });

  it('replaces a request id that does not start with a letter or digit, in the answer and upstream', async () => {
    const token = await identity.token({ sub: 'user-rid-start' });
    for (const odd of ['--help', '-.-', '...', ':x']) {
      const res = await http.get('/v1/me').set('authorization', `Bearer ${token}`).set('x-request-id', odd);
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(res.body.headers['x-request-id']).toBe(res.headers['x-request-id']);
      expect((await forwardedContext(res.body.headers)).requestId).toBe(res.headers['x-request-id']);
    }
    const kept = await http.get('/v1/me').set('authorization', `Bearer ${token}`).set('x-request-id', '0ab.c:d-e_f');
    expect(kept.headers['x-request-id']).toBe('0ab.c:d-e_f');
  });

  it('keeps a sane client request id and replaces an odd one', async () => {
    const odd = await http.get('/health/live').set('x-request-id', 'bad id with spaces');
    expect(odd.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const token = await identity.token({ sub: 'user-rid' });
    const res = await http.get('/v1/me').set('authorization', `Bearer ${token}`).set('x-request-id', '<script>');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.headers['x-request-id']).toBe(res.headers['x-request-id']);
  });
});
