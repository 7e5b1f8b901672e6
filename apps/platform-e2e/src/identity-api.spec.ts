import { createHmac, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { SignJWT, importJWK, type JWK } from 'jose';
import { documentedClient, type ContractChecker } from './contract';
import { type client, eventually, operatorTool, signUp, startPlatform, removeDataDir, type Platform } from './platform';

/**
 * The public API of the platform foundation, driven through the gateway of a platform started by the launcher,
 * the way a storefront or back-office app would call it.
 */
describe('identity through the gateway (npm start)', () => {
  let platform: Platform & { startupMs: number };
  let api: ReturnType<typeof client>;
  let checker: ContractChecker;
  const slugA = `acme-${randomUUID().slice(0, 8)}`;
  const slugB = `brick-${randomUUID().slice(0, 8)}`;
  const ownerA = { email: `owner@${slugA}.test`, password: 'correct horse battery', name: 'Ada Owner' };
  const ownerB = { email: `owner@${slugB}.test`, password: 'another long password', name: 'Bo Owner' };
  let tenantA: any;
  let tokensA: any;
  let tokensB: any;

  beforeAll(async () => {
    platform = await startPlatform({ API_KEY_CACHE_TTL_MS: '500', RATE_LIMIT_AUTH_POINTS: '1000' });
    ({ api, checker } = await documentedClient(platform.baseUrl));
  });

  afterAll(async () => {
    if (platform) {
      await platform.stop();
      removeDataDir(platform);
    }
  });

  const expectProblem = (res: { status: number; headers: Headers; body: any }, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({ status, title: expect.any(String) });
  };

  it('starts within 60 seconds and serves health, JWKS, OpenAPI and docs', async () => {
    expect(platform.startupMs).toBeLessThan(60_000);
    expect((await api('GET', '/health/ready')).status).toBe(200);
    const jwks = await api('GET', '/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'EC', kid: expect.any(String) });
    expect(jwks.body.keys[0].d).toBeUndefined();
    const doc = await api('GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/tenants', '/v1/auth/login', '/v1/users']));
    const docs = await api('GET', '/docs');
    expect(docs.status).toBe(200);
    expect(String(docs.body)).toMatch(/<html/i);
  });

  it('signs a tenant up with its owner and refuses a taken slug or email with 409', async () => {
    const res = await api('POST', '/v1/tenants', { body: { name: 'Acme Bricks', slug: slugA, owner: ownerA } });
    expect(res.status).toBe(201);
    expect(res.body.tenant).toMatchObject({ slug: slugA, name: 'Acme Bricks', type: 'single_brand', status: expect.any(String) });
    expect(res.body.tenant.defaultCurrency).toMatch(/^[A-Z]{3}$/);
    expect(res.body.user).toMatchObject({ email: ownerA.email, name: ownerA.name, role: 'owner' });
    expect(JSON.stringify(res.body)).not.toContain(ownerA.password);
    tenantA = res.body.tenant;

    const b = await api('POST', '/v1/tenants', {
      body: { name: 'Brick Mall', slug: slugB, type: 'mall', defaultCurrency: 'EUR', owner: ownerB },
    });
    expect(b.status).toBe(201);
    expect(b.body.tenant).toMatchObject({ type: 'mall', defaultCurrency: 'EUR' });

    expectProblem(await api('POST', '/v1/tenants', { body: { name: 'x', slug: slugA, owner: { ...ownerA, email: 'new@x.test' } } }), 409);
    expectProblem(await api('POST', '/v1/tenants', { body: { name: 'x', slug: `${slugA}-2`, owner: ownerA } }), 409);
  });

  it('refuses bad signup input with 4xx problem+json and creates nothing', async () => {
    const slug = `bad-${randomUUID().slice(0, 8)}`;
    expectProblem(await api('POST', '/v1/tenants', { rawBody: '{"name": "x", "slug": ' }), 400);
    expectProblem(await api('POST', '/v1/tenants', { body: { name: 'x', slug, owner: ownerA, isAdmin: true } }), 400);
    expectProblem(await api('POST', '/v1/tenants', { body: { name: 42, slug, owner: ownerA } }), 400);
    expectProblem(await api('POST', '/v1/tenants', { body: { name: 'x', slug, type: 'galaxy', owner: ownerA } }), 400);
    const huge = { name: 'x'.repeat(2 * 1024 * 1024), slug, owner: ownerA };
    expectProblem(await api('POST', '/v1/tenants', { body: huge }), 413);
    // None of those created the slug: it is still free.
    const ok = await api('POST', '/v1/tenants', { body: { name: 'late', slug, owner: { ...ownerA, email: `o@${slug}.test` } } });
    expect(ok.status).toBe(201);
  });

  it('logs in, answers the same 401 for a wrong password and an unknown email, and serves /v1/me', async () => {
    const login = await api('POST', '/v1/auth/login', { body: { email: ownerA.email, password: ownerA.password } });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String), tokenType: 'Bearer' });
    expect(login.body.expiresIn).toBeGreaterThan(0);
    tokensA = login.body;
    tokensB = (await api('POST', '/v1/auth/login', { body: { email: ownerB.email, password: ownerB.password } })).body;

    const wrong = await api('POST', '/v1/auth/login', { body: { email: ownerA.email, password: 'not the password' } });
    const unknown = await api('POST', '/v1/auth/login', { body: { email: 'nobody@nowhere.test', password: 'not the password' } });
    expectProblem(wrong, 401);
    expectProblem(unknown, 401);
    expect(unknown.body.detail).toEqual(wrong.body.detail);

    const me = await api('GET', '/v1/me', { token: tokensA.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({ email: ownerA.email, role: 'owner' });
    expect(me.body.tenant).toMatchObject({ id: tenantA.id, slug: slugA });
  });

  it('refuses missing, expired, tampered, alg:none and HS256 tokens with 401', async () => {
    for (const path of ['/v1/me', '/v1/users', '/v1/stores', '/v1/api-keys']) {
      expectProblem(await api('GET', path), 401);
    }
    const [h, p, s] = tokensA.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, roles: ['owner'], tid: randomUUID() })).toString('base64url')}.${s}`;
    expectProblem(await api('GET', '/v1/me', { token: tampered }), 401);

    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    expectProblem(await api('GET', '/v1/me', { token: none }), 401);

    const hsHeader = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: JSON.parse(Buffer.from(h, 'base64url').toString()).kid })).toString('base64url');
    const jwks = (await api('GET', '/.well-known/jwks.json')).body;
    const hsSig = createHmac('sha256', JSON.stringify(jwks.keys[0])).update(`${hsHeader}.${p}`).digest('base64url');
    expectProblem(await api('GET', '/v1/me', { token: `${hsHeader}.${p}.${hsSig}` }), 401);

    // A token signed with the real key but already expired.
    const jwk = JSON.parse(platform.secrets().JWT_SIGNING_KEYS)[0] as JWK;
    const key = await importJWK(jwk, 'ES256');
    const expired = await new SignJWT({ ...claims, iat: undefined, exp: undefined })
      .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
      .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 1800)
      .sign(key);
    expectProblem(await api('GET', '/v1/me', { token: expired }), 401);
    // The same key with a fresh expiry passes: the refusal above was for the expiry alone.
    const fresh = await new SignJWT({ ...claims, iat: undefined, exp: undefined })
      .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
    expect((await api('GET', '/v1/me', { token: fresh })).status).toBe(200);

    // A client cannot forge the internal caller context either.
    const forged = await api('GET', '/v1/me', { headers: { 'x-tessera-context': 'forged' } });
    expectProblem(forged, 401);
  });

  it('lets owners and admins manage users; other roles get 403; another tenant gets 404', async () => {
    const admin = await api('POST', '/v1/users', {
      token: tokensA.accessToken,
      body: { email: `admin@${slugA}.test`, name: 'Al Admin', role: 'admin', password: 'admin password 123' },
    });
    expect(admin.status).toBe(201);
    expect(admin.body).toMatchObject({ email: `admin@${slugA}.test`, role: 'admin' });
    expect(admin.body.password).toBeUndefined();
    expect(admin.body.passwordHash).toBeUndefined();

    const picker = await api('POST', '/v1/users', {
      token: tokensA.accessToken,
      body: { email: `picker@${slugA}.test`, name: 'Pia Picker', role: 'picker', password: 'picker password 123' },
    });
    expect(picker.status).toBe(201);
    expectProblem(
      await api('POST', '/v1/users', {
        token: tokensA.accessToken,
        body: { email: `picker@${slugA}.test`, name: 'Dup', role: 'picker', password: 'picker password 123' },
      }),
      409,
    );
    expectProblem(
      await api('POST', '/v1/users', { token: tokensA.accessToken, body: { email: 'not-an-email', name: 'x', role: 'picker', password: 'long enough pw' } }),
      400,
    );
    expectProblem(
      await api('POST', '/v1/users', { token: tokensA.accessToken, body: { email: `r@${slugA}.test`, name: 'x', role: 'emperor', password: 'long enough pw' } }),
      400,
    );

    const pickerTokens = (await api('POST', '/v1/auth/login', { body: { email: `picker@${slugA}.test`, password: 'picker password 123' } })).body;
    expectProblem(
      await api('POST', '/v1/users', { token: pickerTokens.accessToken, body: { email: `x@${slugA}.test`, name: 'x', role: 'staff', password: 'long enough pw' } }),
      403,
    );

    const page1 = await api('GET', '/v1/users?limit=2', { token: tokensA.accessToken });
    expect(page1.status).toBe(200);
    expect(page1.body.items).toHaveLength(2);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await api('GET', `/v1/users?limit=2&cursor=${encodeURIComponent(page1.body.nextCursor)}`, { token: tokensA.accessToken });
    expect(page2.body.items).toHaveLength(1);
    const emails = [...page1.body.items, ...page2.body.items].map((u: any) => u.email).sort();
    expect(emails).toEqual([`admin@${slugA}.test`, ownerA.email, `picker@${slugA}.test`].sort());
    expectProblem(await api('GET', '/v1/users?limit=100000', { token: tokensA.accessToken }), 400);
    expectProblem(await api('GET', '/v1/users?cursor=garbage!!', { token: tokensA.accessToken }), 400);

    // Tenant B sees none of A's users and cannot touch them.
    const listB = await api('GET', '/v1/users', { token: tokensB.accessToken });
    expect(listB.body.items.map((u: any) => u.email)).toEqual([ownerB.email]);
    expectProblem(await api('PATCH', `/v1/users/${picker.body.id}`, { token: tokensB.accessToken, body: { name: 'pwned' } }), 404);
    expectProblem(await api('POST', `/v1/users/${picker.body.id}/deactivate`, { token: tokensB.accessToken }), 404);

    const renamed = await api('PATCH', `/v1/users/${picker.body.id}`, { token: tokensA.accessToken, body: { name: 'Pia P.', role: 'staff' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Pia P.', role: 'staff' });
    // The picker's token, issued before the change, names a role the user no longer has: refused on every service
    // within the gateway's user-status cache (5 s), not when it expires.
    const roleChanged = await eventually(async () => {
      const res = await api('GET', '/v1/inventory/levels', { token: pickerTokens.accessToken });
      return res.status === 401 ? res : undefined;
    }, 'the role change to reach the gateway', 15_000);
    expect(roleChanged.body.reason).toBe('role_changed');
    const staffTokens = (await api('POST', '/v1/auth/refresh', { body: { refreshToken: pickerTokens.refreshToken } })).body;
    expect((await api('GET', '/v1/inventory/levels', { token: staffTokens.accessToken })).status).toBe(200);
    expectProblem(await api('PATCH', `/v1/users/${picker.body.id}`, { token: tokensA.accessToken, body: { email: 'x@y.z' } }), 400);
    expectProblem(await api('PATCH', `/v1/users/not-a-uuid`, { token: tokensA.accessToken, body: { name: 'x' } }), 400);

    // Deactivation: no more login, no more refresh.
    const deact = await api('POST', `/v1/users/${picker.body.id}/deactivate`, { token: tokensA.accessToken });
    expect(deact.status).toBe(200);
    expectProblem(await api('POST', '/v1/auth/login', { body: { email: `picker@${slugA}.test`, password: 'picker password 123' } }), 401);
    expectProblem(await api('POST', '/v1/auth/refresh', { body: { refreshToken: staffTokens.refreshToken } }), 401);
    // And its live access token is refused on every service within the gateway's user-status cache.
    await eventually(async () => ((await api('GET', '/v1/products', { token: staffTokens.accessToken })).status === 401 ? true : undefined), 'the deactivation to reach the gateway', 15_000);
  });

  it('rotates refresh tokens and revokes the whole family when a rotated one is presented', async () => {
    const first = (await api('POST', '/v1/auth/login', { body: { email: ownerA.email, password: ownerA.password } })).body;
    const second = await api('POST', '/v1/auth/refresh', { body: { refreshToken: first.refreshToken } });
    expect(second.status).toBe(200);
    expect(second.body.refreshToken).not.toEqual(first.refreshToken);
    expect((await api('GET', '/v1/me', { token: second.body.accessToken })).status).toBe(200);

    expectProblem(await api('POST', '/v1/auth/refresh', { body: { refreshToken: first.refreshToken } }), 401);
    // The reuse revoked the family: the newest token is dead too.
    expectProblem(await api('POST', '/v1/auth/refresh', { body: { refreshToken: second.body.refreshToken } }), 401);
    expectProblem(await api('POST', '/v1/auth/refresh', { body: { refreshToken: 42 } }), 400);
  });

  it('keeps marketplace credentials encrypted and never returns them', async () => {
    const credentials = { consumerKey: 'ck-PLAINTEXT-1', consumerSecret: 'cs-PLAINTEXT-2', tokenValue: 'tv-PLAINTEXT-3', tokenSecret: 'ts-PLAINTEXT-4' };
    const created = await api('POST', '/v1/stores', { token: tokensA.accessToken, body: { name: 'BL shop', channel: 'bricklink', credentials } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'BL shop', channel: 'bricklink' });
    expect([...created.body.credentialsSet].sort()).toEqual(Object.keys(credentials).sort());
    expect(JSON.stringify(created.body)).not.toMatch(/PLAINTEXT/);

    const got = await api('GET', `/v1/stores/${created.body.id}`, { token: tokensA.accessToken });
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.body)).not.toMatch(/PLAINTEXT/);
    const list = await api('GET', '/v1/stores', { token: tokensA.accessToken });
    expect(list.body.items.map((s: any) => s.id)).toContain(created.body.id);
    expect(JSON.stringify(list.body)).not.toMatch(/PLAINTEXT/);

    expectProblem(await api('GET', `/v1/stores/${created.body.id}`, { token: tokensB.accessToken }), 404);
    expectProblem(
      await api('POST', '/v1/stores', { token: tokensA.accessToken, body: { name: 'x', channel: 'bricklink', credentials: { consumerKey: 'only one' } } }),
      400,
    );
    expectProblem(await api('POST', '/v1/stores', { token: tokensA.accessToken, body: { name: 'x', channel: 'ebay' } }), 400);

    // At rest: nothing of the secret is readable in the database, even by the superuser.
    const db = new Client({ connectionString: platform.adminUrl() });
    await db.connect();
    try {
      const { rows } = await db.query(`select to_jsonb(s)::text as row from identity.stores s where s.id = $1`, [created.body.id]);
      expect(rows).toHaveLength(1);
      expect(rows[0].row).not.toMatch(/PLAINTEXT/);
    } finally {
      await db.end();
    }
  });

  it('issues API keys shown once, accepted as X-Api-Key or Bearer, and revocable', async () => {
    const created = await api('POST', '/v1/api-keys', { token: tokensA.accessToken, body: { name: 'ops sync', scopes: ['stores:read'] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.any(String), key: expect.any(String) });
    const { id, key } = created.body;

    const list = await api('GET', '/v1/api-keys', { token: tokensA.accessToken });
    expect(JSON.stringify(list.body)).not.toContain(key);

    expect((await api('GET', '/v1/stores', { apiKey: key })).status).toBe(200);
    expect((await api('GET', '/v1/stores', { token: key })).status).toBe(200);
    expectProblem(await api('GET', '/v1/stores', { apiKey: `${key}x` }), 401);
    expectProblem(await api('POST', '/v1/api-keys', { token: tokensA.accessToken, body: { name: 'x', scopes: 'all' } }), 400);
    expectProblem(await api('DELETE', `/v1/api-keys/${id}`, { token: tokensB.accessToken }), 404);

    const revoked = await api('DELETE', `/v1/api-keys/${id}`, { token: tokensA.accessToken });
    expect(revoked.status).toBe(204);
    await new Promise((r) => setTimeout(r, 700)); // the gateway's key cache TTL is 500 ms in this run
    expectProblem(await api('GET', '/v1/stores', { apiKey: key }), 401);
  });

  it('replays an API key create with the same Idempotency-Key, without its secret', async () => {
    const body = { name: 'idempotent sync', scopes: ['stores:read'] };
    const headers = { 'idempotency-key': `api-key-${randomUUID()}` };
    const first = await api('POST', '/v1/api-keys', { token: tokensA.accessToken, body, headers });
    expect(first.status).toBe(201);
    const again = await api('POST', '/v1/api-keys', { token: tokensA.accessToken, body, headers });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual({ id: first.body.id, key: null, keyRedacted: true });
    expectProblem(await api('POST', '/v1/api-keys', { token: tokensA.accessToken, body: { ...body, name: 'other' }, headers }), 422);
    const list = await api('GET', '/v1/api-keys', { token: tokensA.accessToken });
    expect(list.body.items.filter((k: any) => k.name === 'idempotent sync')).toHaveLength(1);
  });

  it('published the identity events through the outbox to the event log', async () => {
    const db = new Client({ connectionString: platform.adminUrl() });
    await db.connect();
    try {
      const deadline = Date.now() + 10_000;
      let types: string[] = [];
      while (Date.now() < deadline) {
        const { rows } = await db.query(
          `select distinct envelope->>'type' as type from messaging.events where envelope->>'tenantid' = $1`,
          [tenantA.id],
        );
        types = rows.map((r) => r.type);
        if (types.includes('identity.user.deactivated') && types.includes('identity.store.created')) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(types).toEqual(
        expect.arrayContaining(['identity.tenant.created', 'identity.user.created', 'identity.user.deactivated', 'identity.store.created']),
      );
    } finally {
      await db.end();
    }
  });

  it("connects every service, its event transport included, as that service's runtime role, never as a superuser", async () => {
    const db = new Client({ connectionString: platform.adminUrl() });
    await db.connect();
    try {
      const { rows } = await db.query(
        `select a.usename as role, a.application_name as app, r.rolsuper as super, r.rolbypassrls as bypass
           from pg_stat_activity a join pg_roles r on r.oid = a.usesysid
          where a.backend_type = 'client backend' and a.pid <> pg_backend_pid()`,
      );
      // The transport's pools (application_name tessera-messaging) and every service's data source.
      expect(rows.filter((r) => r.app === 'tessera-messaging').length).toBeGreaterThan(0);
      expect(rows.filter((r) => r.super || r.bypass)).toEqual([]);
      expect(new Set(rows.map((r) => r.role))).toEqual(
        new Set(['tessera_identity', 'tessera_catalog', 'tessera_inventory', 'tessera_orders', 'tessera_billing']),
      );
    } finally {
      await db.end();
    }
  });

  it('answers 404 problem+json for unknown routes and never exposes internal routes', async () => {
    expectProblem(await api('GET', '/v1/nothing-here', { token: tokensA.accessToken }), 404);
    expectProblem(await api('POST', '/internal/api-keys/verify', { body: { key: 'x' } }), 404);
  });

  it("suspends a tenant with the operator's tool: its live token and API key are refused within seconds, and reactivation restores both", async () => {
    const { token } = await signUp(api, { slug: `susp-${randomUUID().slice(0, 8)}` });
    const tenantId = (await api('GET', '/v1/me', { token })).body.tenant.id as string;
    const key = (await api('POST', '/v1/api-keys', { token, body: { name: 'ops', scopes: ['orders:read'] } })).body.key as string;
    expect((await api('GET', '/v1/orders', { apiKey: key })).status).toBe(200);
    // The tool an operator runs (apps/identity/src/tenant-status-cli.ts): it calls identity's internal route directly.
    const operator = (status: string) => operatorTool(platform, 'identity', 'tenant-status', [tenantId, status, 'e2e: unpaid invoice']);
    expect((await operator('suspended')).stdout).toMatch(/^200 /);
    // Through the gateway, its own public route cannot undo it: /internal is never routed.
    expectProblem(await api('PUT', `/internal/tenants/${tenantId}/status`, { token, body: { status: 'active', reason: 'me' } }), 404);
    // Identity refuses its own routes at once; the gateway refuses every route once its status cache (5 s) expires,
    // here a route of the orders service, which knows nothing of tenant status, called with the API key.
    expectProblem(await api('GET', '/v1/me', { token }), 403);
    const refused = await eventually(async () => {
      const res = await api('GET', '/v1/orders', { apiKey: key });
      return res.status === 403 ? res : undefined;
    }, 'the suspension to reach the gateway', 15_000);
    expect(refused.body.title).toBe('Tenant suspended');
    expectProblem(await api('GET', '/v1/orders', { token }), 403);
    expect((await operator('active')).stdout).toMatch(/^200 /);
    await eventually(async () => ((await api('GET', '/v1/me', { token })).status === 200 ? true : undefined), 'the reactivation', 15_000);
    expect((await api('GET', '/v1/orders', { apiKey: key })).status).toBe(200);
    // Other tenants never noticed.
    expect((await api('GET', '/v1/me', { token: tokensB.accessToken })).status).toBe(200);
  }, 90_000);

  it("reaches each consuming service's dead letters with its operator tool, directly; the gateway never routes them", async () => {
    const services = ['catalog', 'inventory', 'orders', 'billing'];
    // The tool an operator runs (apps/<service>/src/dead-letters-cli.ts), with the platform's secret from its data folder.
    const listed = await Promise.all(services.map((service) => operatorTool(platform, service, 'dead-letters', ['list', 'all'])));
    listed.forEach(({ stdout }, i) => {
      expect({ service: services[i], stdout }).toEqual({ service: services[i], stdout: expect.stringMatching(/^200 /) });
      expect(JSON.parse(stdout.slice(4))).toEqual({ items: [] });
    });
    expectProblem(await api('GET', '/internal/dead-letters'), 404);
  }, 60_000);

  it('answered only as the OpenAPI document describes', () => {
    expect(checker.violations).toEqual([]);
  });
});
