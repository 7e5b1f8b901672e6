import type { NestExpressApplication } from '@nestjs/platform-express';
import { signCallerContext } from '@tessera/service-kit';
import request from 'supertest';
import { TenantStatusLookup } from '../src/auth/tenant-status';
import { GatewayError } from '../src/http/problem';
import { FakeIdentity, IDENTITY_KEY } from './fake-identity';
import { closedPort } from './fake-upstream';
import { expectProblem, sleep, startGateway, testConfig } from './gateway-harness';

const TTL_MS = 300;

/**
 * A suspension takes effect at the gateway within TENANT_STATUS_CACHE_TTL_MS, for access tokens issued before it
 * and for API keys whose verification is still cached, because every authenticated call checks the tenant's
 * current status (cached per tenant) with identity.
 */
describe('gateway: tenant status', () => {
  let identity: FakeIdentity;
  let app: NestExpressApplication;
  let http: ReturnType<typeof request>;
  let tenantSeq = 0;

  beforeAll(async () => {
    identity = await new FakeIdentity().init();
    // The API key cache keeps its default 30 s: the key's own answer must not delay a suspension.
    app = await startGateway(testConfig(identity.url, { tenantStatusCache: { ttlMs: TTL_MS, maxEntries: 100 } }));
    http = request(app.getHttpServer());
  });

  afterAll(async () => {
    await app.close();
    await identity.stop();
  });

  beforeEach(() => {
    identity.requests.splice(0);
    identity.tenantStatusFailure = undefined;
  });

  /** A tenant of its own per test, so no test sees another's cached status. */
  function newTenant(): string {
    tenantSeq += 1;
    return `tenant-status-${tenantSeq}`;
  }

  describe('through the gateway', () => {
    it('refuses a token issued while the tenant was active once it is suspended, within the TTL, and accepts it again after reactivation', async () => {
      const tenant = newTenant();
      const token = await identity.token({ tid: tenant, tenant_status: 'active' }, { expiresIn: '15m' });
      const call = () => http.get('/v1/users').set('authorization', `Bearer ${token}`);
      expect((await call()).status).toBe(200);

      identity.tenantStatuses.set(tenant, 'suspended');
      await sleep(TTL_MS + 50);
      const refused = await call();
      expectProblem(refused, 403);
      expect(refused.body).toMatchObject({ title: 'Tenant suspended', detail: 'This tenant is suspended' });
      expect(identity.received('/v1/users')).toHaveLength(1);

      identity.tenantStatuses.set(tenant, 'active');
      await sleep(TTL_MS + 50);
      expect((await call()).status).toBe(200);
      expect(identity.received('/v1/users')).toHaveLength(2);
    });

    it('refuses an API key of a tenant suspended after the key was verified and cached, within the TTL', async () => {
      const tenant = newTenant();
      identity.apiKeys.set('tsk_live_status', { apiKeyId: 'key-s', tenantId: tenant, scopes: [], tenantStatus: 'active' });
      const call = () => http.get('/v1/stores').set('x-api-key', 'tsk_live_status');
      expect((await call()).status).toBe(200);

      identity.tenantStatuses.set(tenant, 'suspended');
      await sleep(TTL_MS + 50);
      expectProblem(await call(), 403);
      // The key itself was verified once: its cached answer (tenantStatus 'active') did not keep the tenant in.
      expect(identity.received('/internal/api-keys/verify')).toHaveLength(1);
      expect(identity.received('/v1/stores')).toHaveLength(1);

      identity.tenantStatuses.set(tenant, 'active');
      await sleep(TTL_MS + 50);
      expect((await call()).status).toBe(200);
    });

    it('asks identity once per tenant per TTL, with one call for concurrent requests', async () => {
      const tenant = newTenant();
      const token = await identity.token({ tid: tenant });
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => http.get('/v1/me').set('authorization', `Bearer ${token}`)),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      expect(identity.statusLookups(tenant)).toHaveLength(1);
      expect((await http.get('/v1/me').set('authorization', `Bearer ${token}`)).status).toBe(200);
      expect(identity.statusLookups(tenant)).toHaveLength(1);

      await sleep(TTL_MS + 50);
      expect((await http.get('/v1/me').set('authorization', `Bearer ${token}`)).status).toBe(200);
      expect(identity.statusLookups(tenant)).toHaveLength(2);
    });

    it('does not look up a status on public routes', async () => {
      const res = await http.post('/v1/auth/login').send({ email: 'a@b.c', password: 'pw' });
      expect(res.status).toBe(200);
      expect(identity.statusLookups()).toHaveLength(0);
    });

    it('answers 503 while identity fails the lookup, caches no failure, and recovers on the next call', async () => {
      const tenant = newTenant();
      const token = await identity.token({ tid: tenant });
      identity.tenantStatusFailure = 500;
      const failed = await http.get('/v1/users').set('authorization', `Bearer ${token}`);
      expectProblem(failed, 503);
      expect(failed.body.detail).toMatch(/tenant's status/);
      expectProblem(await http.get('/v1/users').set('authorization', `Bearer ${token}`), 503);
      expect(identity.statusLookups(tenant)).toHaveLength(2);
      expect(identity.received('/v1/users')).toHaveLength(0);

      identity.tenantStatusFailure = undefined;
      expect((await http.get('/v1/users').set('authorization', `Bearer ${token}`)).status).toBe(200);
      expect(identity.statusLookups(tenant)).toHaveLength(3);
    });

    it('answers 401 for a tenant identity does not know', async () => {
      const tenant = newTenant();
      identity.tenantStatuses.set(tenant, 'missing');
      const res = await http.get('/v1/users').set('authorization', `Bearer ${await identity.token({ tid: tenant })}`);
      expectProblem(res, 401);
      expect(identity.received('/v1/users')).toHaveLength(0);
    });

    it('answers 503 when identity is down, even for a token whose signature is already verified and cached', async () => {
      const ownIdentity = await new FakeIdentity().init();
      const gateway = await startGateway(testConfig(ownIdentity.url, { tenantStatusCache: { ttlMs: TTL_MS, maxEntries: 10 } }));
      try {
        const token = await ownIdentity.token({ tid: newTenant() });
        const call = () => request(gateway.getHttpServer()).get('/v1/users').set('authorization', `Bearer ${token}`);
        expect((await call()).status).toBe(200);
        await ownIdentity.stop();
        await sleep(TTL_MS + 50);
        const res = await call();
        expectProblem(res, 503);
        expect(res.body.detail).toMatch(/tenant's status/);
      } finally {
        await gateway.close();
        await ownIdentity.stop();
      }
    });
  });

  describe('TenantStatusLookup cache', () => {
    let now: number;
    const lookup = (ttlMs = 5_000) =>
      new TenantStatusLookup(identity.url, (context) => signCallerContext(context, IDENTITY_KEY), {
        ttlMs,
        maxEntries: 100,
        now: () => now,
      });

    beforeEach(() => {
      now = Date.now();
    });

    async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(GatewayError);
      return error as GatewayError;
    }

    it('keeps an answer exactly for the TTL, then asks again', async () => {
      const statuses = lookup(5_000);
      const tenant = newTenant();
      expect(await statuses.statusOf(tenant, 'r1')).toBe('active');
      identity.tenantStatuses.set(tenant, 'suspended');
      now += 4_999;
      expect(await statuses.statusOf(tenant, 'r2')).toBe('active');
      expect(identity.statusLookups(tenant)).toHaveLength(1);
      now += 1;
      expect(await statuses.statusOf(tenant, 'r3')).toBe('suspended');
      expect(identity.statusLookups(tenant)).toHaveLength(2);
      expect((await refusal(statuses.assertActive(tenant, 'r4'))).problem).toMatchObject({
        status: 403,
        title: 'Tenant suspended',
      });
    });

    it('keeps each tenant apart', async () => {
      const statuses = lookup();
      const [a, b] = [newTenant(), newTenant()];
      identity.tenantStatuses.set(b, 'suspended');
      expect(await statuses.statusOf(a, 'r')).toBe('active');
      expect(await statuses.statusOf(b, 'r')).toBe('suspended');
      await expect(statuses.assertActive(a, 'r')).resolves.toBeUndefined();
    });

    it('caches no failure: identity failing, then answering nonsense, then answering', async () => {
      const statuses = lookup();
      const tenant = newTenant();
      identity.tenantStatusFailure = 502;
      expect((await refusal(statuses.statusOf(tenant, 'r'))).problem.status).toBe(503);
      identity.tenantStatusFailure = undefined;
      identity.tenantStatuses.set(tenant, 'closed' as never);
      expect((await refusal(statuses.statusOf(tenant, 'r'))).problem.status).toBe(503);
      identity.tenantStatuses.set(tenant, 'trial');
      expect(await statuses.statusOf(tenant, 'r')).toBe('trial');
      expect(identity.statusLookups(tenant)).toHaveLength(3);
    });

    it('answers 503 when identity cannot be reached', async () => {
      const unreachable = new TenantStatusLookup(
        `http://127.0.0.1:${await closedPort()}`,
        (context) => signCallerContext(context, IDENTITY_KEY),
        { ttlMs: 5_000, maxEntries: 10 },
      );
      expect((await refusal(unreachable.assertActive(newTenant(), 'r'))).problem.status).toBe(503);
    });
  });
});
