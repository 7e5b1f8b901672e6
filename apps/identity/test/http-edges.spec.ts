import { randomUUID } from 'node:crypto';
import { CONTEXT_HEADER } from '@tessera/contracts';
import { SignJWT } from 'jose';
import { Client } from 'pg';
import { expectProblem, IdentityHarness, INTERNAL_SECRET, type SignedUp } from './support/identity-harness';

describe('HTTP edges, caller context and tenant isolation', () => {
  let h: IdentityHarness;
  let t: SignedUp;
  beforeAll(async () => {
    h = await IdentityHarness.start();
    t = await h.signup();
  });
  afterAll(async () => {
    await h.close();
  });

  const id = randomUUID();
  const ROUTES: [method: 'get' | 'post' | 'put' | 'patch' | 'delete', path: string][] = [
    ['post', '/v1/tenants'],
    ['post', '/v1/auth/login'],
    ['post', '/v1/auth/refresh'],
    ['get', '/v1/me'],
    ['post', '/v1/users'],
    ['get', '/v1/users'],
    ['patch', `/v1/users/${id}`],
    ['post', `/v1/users/${id}/deactivate`],
    ['post', '/v1/stores'],
    ['get', '/v1/stores'],
    ['get', `/v1/stores/${id}`],
    ['post', '/v1/vendors'],
    ['get', '/v1/vendors'],
    ['post', '/v1/api-keys'],
    ['get', '/v1/api-keys'],
    ['delete', `/v1/api-keys/${id}`],
    ['post', '/internal/api-keys/verify'],
    ['get', `/internal/tenants/${id}/status`],
    ['put', `/internal/tenants/${id}/status`],
  ];

  it.each(ROUTES)('%s %s without a caller context is 401', async (method, path) => {
    expectProblem(await h.http[method](path).send({}), 401);
  });

  const PROTECTED = ROUTES.filter(
    ([, path]) =>
      !['/v1/tenants', '/v1/auth/login', '/v1/auth/refresh'].includes(path) && !path.startsWith('/internal/'),
  );
  it.each(PROTECTED)('%s %s with an anonymous context is 401', async (method, path) => {
    expectProblem(
      await h.http[method](path)
        .set(await h.anonymousHeaders())
        .send({}),
      401,
    );
  });

  it('refuses expired, tampered, alg:none and wrongly-signed contexts', async () => {
    const owner = h.ownerOf(t);
    const expired = await h.context(
      { tenantId: owner.tenantId, principalId: owner.userId, principalType: 'user', roles: ['owner'] },
      -60,
    );
    const valid = (await h.userHeaders(owner))[CONTEXT_HEADER];
    const [header, payload, signature] = valid.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const tampered = [
      header,
      Buffer.from(JSON.stringify({ ...claims, tid: randomUUID() })).toString('base64url'),
      signature,
    ].join('.');
    const none = [Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'), payload, ''].join(
      '.',
    );
    const otherSecret = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(INTERNAL_SECRET.replace(/.$/, '!')));
    for (const token of [expired, tampered, none, otherSecret, 'garbage']) {
      expectProblem(await h.http.get('/v1/me').set(CONTEXT_HEADER, token), 401);
      expectProblem(
        await h.http
          .post('/v1/users')
          .set(CONTEXT_HEADER, token)
          .send({ email: 'x@example.com', name: 'x', role: 'staff', password: 'long enough pw' }),
        401,
      );
    }
    const { rows } = await h.admin.query(`SELECT count(*)::int AS n FROM identity.users WHERE email = 'x@example.com'`);
    expect(rows[0].n).toBe(0);
  });

  const BODY_ROUTES: [method: 'post' | 'put' | 'patch', path: () => string][] = [
    ['post', () => '/v1/tenants'],
    ['post', () => '/v1/auth/login'],
    ['post', () => '/v1/auth/refresh'],
    ['post', () => '/v1/users'],
    ['patch', () => `/v1/users/${t.userId}`],
    ['post', () => '/v1/stores'],
    ['post', () => '/v1/vendors'],
    ['post', () => '/v1/api-keys'],
    ['post', () => '/internal/api-keys/verify'],
    ['put', () => `/internal/tenants/${t.tenantId}/status`],
  ];

  it.each(BODY_ROUTES)(
    '%s %p refuses malformed JSON, unknown fields and wrong types with 400, and writes nothing',
    async (method, path) => {
      const before = await h.rowCounts();
      // Internal routes take only the internal (tenant-less) context; a tenant user's is refused before validation.
      const headers = path().startsWith('/internal/')
        ? await h.internalHeaders()
        : await h.userHeaders(h.ownerOf(t));
      const malformed = await h.http[method](path())
        .set(headers)
        .set('content-type', 'application/json')
        .send('{"name": ');
      expectProblem(malformed, 400);
      const unknown = await h.http[method](path()).set(headers).send({ surprise: true });
      expectProblem(unknown, 400);
      expect((unknown.body.errors as { field: string }[]).map((e) => e.field)).toContain('surprise');
      const wrongType = await h.http[method](path())
        .set(headers)
        .send({ name: 42, email: 42, refreshToken: 42, key: 42 });
      expectProblem(wrongType, 400);
      const notAnObject = await h.http[method](path()).set(headers).send([1, 2]);
      expectProblem(notAnObject, 400);
      expect(await h.rowCounts()).toEqual(before);
    },
  );

  it('answers malformed JSON with 400 and oversized bodies with 413, as problem+json', async () => {
    const malformed = await h.http
      .post('/v1/auth/login')
      .set(await h.anonymousHeaders())
      .set('content-type', 'application/json')
      .send('{"email": "a@b.c", "password": ');
    expectProblem(malformed, 400);
    const huge = await h.http
      .post('/v1/tenants')
      .set(await h.anonymousHeaders())
      .set('content-type', 'application/json')
      .send(
        JSON.stringify({
          name: 'x'.repeat(2 * 1024 * 1024),
          slug: 'huge',
          owner: { email: 'huge@example.com', password: 'long enough pw', name: 'H' },
        }),
      );
    expectProblem(huge, 413);
    const { rows } = await h.admin.query(`SELECT count(*)::int AS n FROM identity.tenants WHERE slug = 'huge'`);
    expect(rows[0].n).toBe(0);
  });

  it('serves health and an OpenAPI document listing the routes', async () => {
    const ready = await h.http.get('/health/ready');
    expect(ready.status).toBe(200);
    const doc = await h.http.get('/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/tenants',
        '/v1/auth/login',
        '/v1/auth/refresh',
        '/v1/me',
        '/v1/users',
        '/v1/users/{id}',
        '/v1/stores',
        '/v1/api-keys',
        '/v1/vendors',
      ]),
    );
    expect(doc.body.paths['/internal/api-keys/verify']).toBeUndefined();
  });

  describe('the runtime role at the database', () => {
    let other: SignedUp;
    let client: Client;
    beforeAll(async () => {
      other = await h.signup();
      client = new Client({ connectionString: h.runtimeUrl });
      await client.connect();
    });
    afterAll(async () => {
      await client.end();
    });

    const asTenant = async <T>(tenantId: string | null, fn: () => Promise<T>): Promise<T> => {
      await client.query('BEGIN');
      try {
        if (tenantId) await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
        return await fn();
      } finally {
        await client.query('ROLLBACK');
      }
    };

    it("sees only the current tenant's rows, even in queries without a tenant filter", async () => {
      const users = await asTenant(t.tenantId, () => client.query('SELECT tenant_id FROM identity.users'));
      expect(users.rows.length).toBeGreaterThan(0);
      expect(new Set(users.rows.map((r) => r.tenant_id))).toEqual(new Set([t.tenantId]));
      const tenants = await asTenant(t.tenantId, () => client.query('SELECT id FROM identity.tenants'));
      expect(tenants.rows).toEqual([{ id: t.tenantId }]);
      const none = await asTenant(null, () => client.query('SELECT id FROM identity.users'));
      expect(none.rows).toEqual([]);
    });

    it('cannot write into another tenant, nor turn RLS off', async () => {
      await expect(
        asTenant(t.tenantId, () =>
          client.query(`UPDATE identity.users SET name = 'pwned' WHERE id = $1`, [other.userId]),
        ),
      ).resolves.toMatchObject({ rowCount: 0 });
      await expect(
        asTenant(t.tenantId, () =>
          client.query(`INSERT INTO identity.vendors (id, tenant_id, name, commission_rate) VALUES ($1, $2, 'x', 1)`, [
            randomUUID(),
            other.tenantId,
          ]),
        ),
      ).rejects.toThrow(/row-level security/);
      await expect(
        asTenant(t.tenantId, () => client.query('ALTER TABLE identity.users NO FORCE ROW LEVEL SECURITY')),
      ).rejects.toThrow(/owner/);
      const role = await client.query('SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user');
      expect(role.rows[0]).toEqual({ rolsuper: false, rolbypassrls: false });
    });

    it('finds a login across tenants only through the narrow definer function', async () => {
      const found = await asTenant(null, () =>
        client.query('SELECT user_id, tenant_id FROM identity.find_login($1)', [other.email]),
      );
      expect(found.rows).toEqual([{ user_id: other.userId, tenant_id: other.tenantId }]);
      const direct = await asTenant(null, () =>
        client.query('SELECT id FROM identity.users WHERE email = $1', [other.email]),
      );
      expect(direct.rows).toEqual([]);
    });
  });
});
