import { randomUUID } from 'node:crypto';
import { CONTEXT_HEADER, INVALID_API_KEY_REASON, ROLES } from '@tessera/contracts';
import { expectProblem, IdentityHarness, type SignedUp } from './support/identity-harness';

describe('API keys', () => {
  let h: IdentityHarness;
  let t: SignedUp;
  beforeAll(async () => {
    h = await IdentityHarness.start();
    t = await h.signup();
  });
  afterAll(async () => {
    await h.close();
  });

  /** A key created by the tenant's owner: its id and its secret, shown this once. */
  const ownerCreatesKey = async (tenant: SignedUp, body: { name: string; scopes: string[] }): Promise<{ id: string; key: string }> => {
    const created = await h.http
      .post('/v1/api-keys')
      .set(await h.userHeaders(h.ownerOf(tenant)))
      .send(body);
    expect(created.status).toBe(201);
    return created.body as { id: string; key: string };
  };

  const verify = async (key: unknown) =>
    h.http
      .post('/internal/api-keys/verify')
      .set(await h.internalHeaders())
      .send({ key });

  it('creates a key shown once, stores only its hash, lists without it, verifies it and revokes it', async () => {
    const owner = await h.userHeaders(h.ownerOf(t));
    const created = await h.http
      .post('/v1/api-keys')
      .set(owner)
      .send({ name: 'ops bot', scopes: ['inventory:write', 'orders:read'] });
    expect(created.status).toBe(201);
    const { id, key } = created.body as { id: string; key: string };
    expect(key).toMatch(/^tsk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);

    const { rows } = await h.admin.query(
      `SELECT *, encode(key_hash, 'hex') AS hex FROM identity.api_keys WHERE id = $1`,
      [id],
    );
    // The secret is everything after `tsk_<prefix>_` (base64url, so it may itself contain '_').
    const secret = key.slice('tsk_'.length + 12 + 1);
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(rows[0])).not.toContain(secret);
    expect(rows[0].hex).toHaveLength(64);

    const list = await h.http.get('/v1/api-keys').set(owner);
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([
      expect.objectContaining({ id, name: 'ops bot', scopes: ['inventory:write', 'orders:read'], revokedAt: null }),
    ]);
    expect(JSON.stringify(list.body)).not.toContain(key);

    const ok = await verify(key);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({
      apiKeyId: id,
      tenantId: t.tenantId,
      scopes: ['inventory:write', 'orders:read'],
      tenantStatus: 'trial',
    });

    expect((await h.http.delete(`/v1/api-keys/${id}`).set(owner)).status).toBe(204);
    expectProblem(await verify(key), 401);
    expect(await h.outboxTypes(t.tenantId)).toEqual(
      expect.arrayContaining(['identity.api_key.created', 'identity.api_key.revoked']),
    );
    const afterList = await h.http.get('/v1/api-keys').set(owner);
    expect(afterList.body.items[0].revokedAt).not.toBeNull();
  });

  it('verify refuses unknown, malformed and tampered keys with the same 401', async () => {
    const { key } = await ownerCreatesKey(t, { name: 'k', scopes: [] });
    const tampered = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    for (const candidate of [tampered, 'tsk_000000000000_' + 'a'.repeat(43), 'not-a-key']) {
      const res = await verify(candidate);
      expectProblem(res, 401);
      expect(res.body).toMatchObject({ detail: 'API key is not valid', reason: INVALID_API_KEY_REASON });
    }
    expectProblem(await verify(12), 400);
    // Only the gateway may call it: no caller context, no answer; and that refusal does not say the key is invalid.
    const noContext = await h.http.post('/internal/api-keys/verify').send({ key });
    expectProblem(noContext, 401);
    expect(noContext.body.reason).toBeUndefined();
  });

  it('reports a suspended tenant so the gateway can refuse it', async () => {
    const s = await h.signup();
    const created = await ownerCreatesKey(s, { name: 'k', scopes: ['a:b'] });
    await h.setTenantStatus(s.tenantId, 'suspended');
    const res = await verify(created.key);
    expect(res.status).toBe(200);
    expect(res.body.tenantStatus).toBe('suspended');
  });

  it("needs owner or admin, validates scopes, and hides other tenants' keys (404)", async () => {
    const manager = await h.addUser(t, 'manager');
    expectProblem(
      await h.http
        .post('/v1/api-keys')
        .set(await h.userHeaders(manager))
        .send({ name: 'k', scopes: [] }),
      403,
    );
    expectProblem(await h.http.get('/v1/api-keys').set(await h.userHeaders(manager)), 403);
    const owner = await h.userHeaders(h.ownerOf(t));
    expectProblem(await h.http.post('/v1/api-keys').set(owner).send({ name: 'k', scopes: 'all' }), 400);
    expectProblem(
      await h.http
        .post('/v1/api-keys')
        .set(owner)
        .send({ name: 'k', scopes: ['Not A Scope'] }),
      400,
    );
    // A scope longer than a caller context may carry would make a key that every service refuses.
    expectProblem(await h.http.post('/v1/api-keys').set(owner).send({ name: 'k', scopes: [`a${'b'.repeat(200)}`] }), 400);
    expect((await h.http.post('/v1/api-keys').set(owner).send({ name: 'k', scopes: [`a${'b'.repeat(199)}`] })).status).toBe(201);

    const other = await h.signup();
    const theirs = await ownerCreatesKey(other, { name: 'theirs', scopes: [] });
    expectProblem(await h.http.delete(`/v1/api-keys/${theirs.id}`).set(owner), 404);
    expectProblem(await h.http.delete(`/v1/api-keys/${randomUUID()}`).set(owner), 404);
    expect((await verify(theirs.key)).status).toBe(200);
  });

  it('revoking at once from several requests, with the id in upper case, writes one event naming the stored id', async () => {
    const fresh = await h.signup();
    const keys = await Promise.all([0, 1, 2, 3].map((i) => ownerCreatesKey(fresh, { name: `racing ${i}`, scopes: ['orders:read'] })));
    const headers = await h.userHeaders(h.ownerOf(fresh));
    await Promise.all(keys.flatMap(({ id }) => [0, 1, 2, 3, 4, 5].map((i) => h.http.delete(`/v1/api-keys/${i % 2 ? id.toUpperCase() : id}`).set(headers).expect(204))));
    const { rows } = await h.admin.query<{ subject: string; partition_key: string; data: { apiKeyId: string } }>(
      `SELECT envelope->>'subject' AS subject, partition_key, envelope->'data' AS data FROM identity.outbox_events WHERE tenant_id = $1 AND type = 'identity.api_key.revoked'`,
      [fresh.tenantId],
    );
    expect(rows.map((r) => r.subject).sort()).toEqual(keys.map((k) => k.id).sort());
    for (const r of rows) expect([r.partition_key, r.data.apiKeyId]).toEqual([r.subject, r.subject]);
  });

  it('revoking: a malformed id is a 400 and roles below owner and admin get 403; the key still works', async () => {
    const fresh = await h.signup();
    const { id, key } = await ownerCreatesKey(fresh, { name: 'keep me', scopes: ['orders:read'] });
    for (const bad of ['not-a-uuid', '1', `${id}x`]) {
      expectProblem(await h.http.delete(`/v1/api-keys/${bad}`).set(await h.userHeaders(h.ownerOf(fresh))), 400);
    }
    for (const role of ROLES.filter((r) => r !== 'owner' && r !== 'admin')) {
      const user = await h.addUser(fresh, role);
      const res = await h.http.delete(`/v1/api-keys/${id}`).set(await h.userHeaders(user));
      expect([role, res.status]).toEqual([role, 403]);
      expectProblem(res, 403);
    }
    const still = await verify(key);
    expect(still.status).toBe(200);
    expect(still.body).toMatchObject({ apiKeyId: id, tenantId: fresh.tenantId });
    const { rows } = await h.admin.query('SELECT revoked_at FROM identity.api_keys WHERE id = $1', [id]);
    expect(rows).toEqual([{ revoked_at: null }]);
    expect(await h.outboxTypes(fresh.tenantId)).not.toContain('identity.api_key.revoked');
  });

  it('an API key cannot list users or API keys (403): no scope opens them, only an owner or admin', async () => {
    const fresh = await h.signup();
    const created = await ownerCreatesKey(fresh, { name: 'orders bot', scopes: ['orders:read'] });
    // What the gateway forwards for that key once /internal/api-keys/verify has accepted it.
    const verified = await verify(created.key);
    expect(verified.status).toBe(200);
    const asKey = {
      [CONTEXT_HEADER]: await h.context({
        tenantId: verified.body.tenantId,
        principalId: verified.body.apiKeyId,
        principalType: 'api_key',
        scopes: verified.body.scopes,
      }),
    };
    for (const route of ['/v1/users', '/v1/api-keys']) {
      const res = await h.http.get(route).set(asKey);
      expect([route, res.status]).toEqual([route, 403]);
      expectProblem(res, 403);
      // The tenant's owner reads the same route: the refusal is the key's, not the route's.
      expect((await h.http.get(route).set(await h.userHeaders(h.ownerOf(fresh)))).status).toBe(200);
    }
  });
});
