import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { FakeIdentity } from './fake-identity';
import { expectProblem, sleep, startGateway, testConfig } from './gateway-harness';

const TTL_MS = 300;

/**
 * A deactivation or a role change takes effect at the gateway within USER_STATUS_CACHE_TTL_MS for access tokens
 * issued before it: every call of a user checks its current status and role (cached per user) with identity.
 */
describe('gateway: user status', () => {
  let identity: FakeIdentity;
  let app: NestExpressApplication;
  let http: ReturnType<typeof request>;
  let seq = 0;

  beforeAll(async () => {
    identity = await new FakeIdentity().init();
    app = await startGateway(testConfig(identity.url, { userStatusCache: { ttlMs: TTL_MS, maxEntries: 100 } }));
    http = request(app.getHttpServer());
  });

  afterAll(async () => {
    await app.close();
    await identity.stop();
  });

  const user = async (role = 'manager') => {
    const sub = `user-${++seq}`;
    return { key: `tenant-1/${sub}`, token: await identity.token({ sub, roles: [role] }) };
  };
  const call = (token: string) => http.get('/v1/users').set('authorization', `Bearer ${token}`);

  it("refuses a deactivated user's live token within the TTL, with 401", async () => {
    const u = await user();
    expect((await call(u.token)).status).toBe(200);
    identity.userStates.set(u.key, { status: 'deactivated', role: 'manager' });
    await sleep(TTL_MS + 50);
    const refused = await call(u.token);
    expectProblem(refused, 401);
    expect(refused.body.detail).toMatch(/deactivated/);
  });

  it('refuses a token naming a role the user no longer has (401 role_changed), and accepts one with the new role', async () => {
    const u = await user('admin');
    expect((await call(u.token)).status).toBe(200);
    identity.userStates.set(u.key, { status: 'active', role: 'viewer' });
    await sleep(TTL_MS + 50);
    const refused = await call(u.token);
    expect(refused.status).toBe(401);
    expect(refused.body.reason).toBe('role_changed');
    const fresh = await identity.token({ sub: u.key.split('/')[1], roles: ['viewer'] });
    expect((await call(fresh)).status).toBe(200);
  });

  it('refuses a user identity does not know (401), and asks identity once per TTL, not once per call', async () => {
    const u = await user();
    identity.userStates.set(u.key, 'missing');
    expect((await call(u.token)).status).toBe(401);
    const v = await user();
    const before = identity.userLookups().length;
    await Promise.all(Array.from({ length: 5 }, () => call(v.token)));
    expect(identity.userLookups().length - before).toBe(1);
  });

  it('does not look users up for API keys', async () => {
    identity.apiKeys.set('tsk_0123456789ab_key', { apiKeyId: 'k-1', tenantId: 'tenant-1', scopes: ['users:read'], tenantStatus: 'active' });
    const before = identity.userLookups().length;
    expect((await http.get('/v1/users').set('x-api-key', 'tsk_0123456789ab_key')).status).toBe(200);
    expect(identity.userLookups().length).toBe(before);
  });
});
