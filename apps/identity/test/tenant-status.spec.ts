import { randomUUID } from 'node:crypto';
import { CONTEXT_HEADER } from '@tessera/contracts';
import { requestTenantStatus } from '../src/tenant-status-cli';
import { expectProblem, IdentityHarness, INTERNAL_SECRET, type SignedUp } from './support/identity-harness';

interface StatusEvent {
  type: string;
  subject: string;
  tenantid: string;
  data: { tenantId: string; from: string; to: string; reason: string };
}

describe('tenant status (operator route and internal read)', () => {
  let h: IdentityHarness;
  beforeAll(async () => {
    h = await IdentityHarness.start();
  });
  afterAll(async () => {
    await h.close();
  });

  const path = (tenantId: string) => `/internal/tenants/${tenantId}/status`;
  const put = async (tenantId: string, body: unknown) =>
    h.http
      .put(path(tenantId))
      .set(await h.internalHeaders())
      .send(body as object);
  const get = async (tenantId: string) =>
    h.http
      .get(path(tenantId))
      .set(await h.internalHeaders());

  async function statusInDb(tenantId: string): Promise<string> {
    const { rows } = await h.admin.query<{ status: string }>('SELECT status FROM identity.tenants WHERE id = $1', [
      tenantId,
    ]);
    return rows[0].status;
  }

  async function statusEvents(tenantId: string): Promise<StatusEvent[]> {
    const { rows } = await h.admin.query<{ envelope: StatusEvent }>(
      `SELECT envelope FROM identity.outbox_events WHERE tenant_id = $1 AND type = 'identity.tenant.status_changed'
       ORDER BY seq`,
      [tenantId],
    );
    return rows.map((r) => r.envelope);
  }

  async function login(t: SignedUp) {
    return h.http
      .post('/v1/auth/login')
      .set(await h.anonymousHeaders())
      .set('x-forwarded-for', '198.51.100.77')
      .send({ email: t.email, password: t.password });
  }

  async function refresh(refreshToken: string) {
    return h.http
      .post('/v1/auth/refresh')
      .set(await h.anonymousHeaders())
      .send({ refreshToken });
  }

  it('reads a tenant status for internal callers', async () => {
    const t = await h.signup();
    const res = await get(t.tenantId);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tenantId: t.tenantId, status: 'trial' });
    expectProblem(await get(randomUUID()), 404);
    expectProblem(await get('not-a-uuid'), 400);
  });

  it('changes trial → active and writes identity.tenant.status_changed {tenantId, from, to, reason} in the outbox', async () => {
    const t = await h.signup();
    const res = await put(t.tenantId, { status: 'active', reason: 'plan activated' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tenantId: t.tenantId, status: 'active', previousStatus: 'trial', changed: true });
    expect(await statusInDb(t.tenantId)).toBe('active');
    expect((await get(t.tenantId)).body.status).toBe('active');
    const events = await statusEvents(t.tenantId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'identity.tenant.status_changed',
      subject: t.tenantId,
      tenantid: t.tenantId,
      data: { tenantId: t.tenantId, from: 'trial', to: 'active', reason: 'plan activated' },
    });
  });

  it('answers and announces a tenant named in upper case by its stored id', async () => {
    const t = await h.signup();
    const res = await put(t.tenantId.toUpperCase(), { status: 'active', reason: 'upper' });
    expect(res.body).toEqual({ tenantId: t.tenantId, status: 'active', previousStatus: 'trial', changed: true });
    expect((await get(t.tenantId.toUpperCase())).body).toEqual({ tenantId: t.tenantId, status: 'active' });
    const events = await statusEvents(t.tenantId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subject: t.tenantId, tenantid: t.tenantId, data: { tenantId: t.tenantId } });
  });

  it('is idempotent: the same status again answers 200 changed:false and emits nothing, even concurrently', async () => {
    const t = await h.signup();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => put(t.tenantId, { status: 'suspended', reason: 'fraud review' })),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.filter((a) => a.body.changed === true)).toHaveLength(1);
    const again = await put(t.tenantId, { status: 'suspended', reason: 'another reason' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ tenantId: t.tenantId, status: 'suspended', previousStatus: 'suspended', changed: false });
    expect((await statusEvents(t.tenantId)).map((e) => e.data)).toEqual([
      { tenantId: t.tenantId, from: 'trial', to: 'suspended', reason: 'fraud review' },
    ]);
  });

  it('records each real change in order: active → suspended → active', async () => {
    const t = await h.signup();
    await h.setTenantStatus(t.tenantId, 'active', 'paid');
    await h.setTenantStatus(t.tenantId, 'suspended', 'chargeback');
    await h.setTenantStatus(t.tenantId, 'active', 'resolved');
    expect((await statusEvents(t.tenantId)).map((e) => [e.data.from, e.data.to, e.data.reason])).toEqual([
      ['trial', 'active', 'paid'],
      ['active', 'suspended', 'chargeback'],
      ['suspended', 'active', 'resolved'],
    ]);
  });

  describe('bad input gets a 4xx problem+json and changes nothing', () => {
    let t: SignedUp;
    beforeAll(async () => {
      t = await h.signup();
    });

    async function expectUnchanged(): Promise<void> {
      expect(await statusInDb(t.tenantId)).toBe('trial');
      expect(await statusEvents(t.tenantId)).toEqual([]);
    }

    const BAD_BODIES: [label: string, body: unknown, field: string][] = [
      ['an unknown status', { status: 'closed', reason: 'x' }, 'status'],
      ['a status of the wrong case', { status: 'Suspended', reason: 'x' }, 'status'],
      ['a missing status', { reason: 'x' }, 'status'],
      ['a status of the wrong type', { status: 1, reason: 'x' }, 'status'],
      ['a missing reason', { status: 'suspended' }, 'reason'],
      ['an empty reason', { status: 'suspended', reason: '' }, 'reason'],
      ['a reason of the wrong type', { status: 'suspended', reason: ['x'] }, 'reason'],
      ['a reason over 500 characters', { status: 'suspended', reason: 'x'.repeat(501) }, 'reason'],
      ['an unknown field', { status: 'suspended', reason: 'x', tenantId: randomUUID() }, 'tenantId'],
      ['a NUL character', { status: 'suspended', reason: 'a\u0000b' }, 'reason'],
    ];

    it.each(BAD_BODIES)('%s → 400 naming the field', async (_label, body, field) => {
      const res = await put(t.tenantId, body);
      expectProblem(res, 400);
      expect((res.body.errors as { field: string }[]).map((e) => e.field)).toContain(field);
      await expectUnchanged();
    });

    it('a body that is not an object, or malformed JSON → 400', async () => {
      expectProblem(await put(t.tenantId, ['suspended']), 400);
      // With the internal credential, as the operator's tool calls it: the refusal is the body's, not the caller's.
      const malformed = await h.http
        .put(path(t.tenantId))
        .set(await h.internalHeaders())
        .set('content-type', 'application/json')
        .send('{"status": "suspended", ');
      expectProblem(malformed, 400);
      await expectUnchanged();
    });

    it('a malformed id → 400, an unknown tenant → 404', async () => {
      for (const id of ['not-a-uuid', '1', `${t.tenantId}x`]) {
        expectProblem(await put(id, { status: 'suspended', reason: 'x' }), 400);
      }
      expectProblem(await put(randomUUID(), { status: 'suspended', reason: 'x' }), 404);
      await expectUnchanged();
    });

    it('a change back to trial → 409 invalid_transition', async () => {
      const other = await h.signup();
      await h.setTenantStatus(other.tenantId, 'active');
      for (const from of ['active', 'suspended'] as const) {
        if (from === 'suspended') await h.setTenantStatus(other.tenantId, 'suspended');
        const res = await put(other.tenantId, { status: 'trial', reason: 'x' });
        expectProblem(res, 409);
        expect(res.body).toMatchObject({ reason: 'invalid_transition', from, to: 'trial' });
        expect(await statusInDb(other.tenantId)).toBe(from);
      }
      expect((await statusEvents(other.tenantId)).map((e) => e.data.to)).toEqual(['active', 'suspended']);
    });
  });

  describe('only internal callers', () => {
    it("refuses the tenant's own users and API keys (403), and calls without a caller context (401)", async () => {
      const t = await h.signup();
      await h.setTenantStatus(t.tenantId, 'suspended', 'abuse');
      const tenantContexts = [
        await h.userHeaders(h.ownerOf(t)),
        await h.userHeaders({ tenantId: t.tenantId, userId: t.userId, role: 'admin' }),
        {
          [CONTEXT_HEADER]: await h.context({
            tenantId: t.tenantId,
            principalId: randomUUID(),
            principalType: 'api_key',
            scopes: ['tenants:write'],
          }),
        },
        // an anonymous context that names a tenant is not the internal credential either
        { [CONTEXT_HEADER]: await h.context({ tenantId: t.tenantId }) },
        // nor is the anonymous one the gateway signs for every public request (signup, login)
        await h.anonymousHeaders(),
        // nor an internal one that names a tenant
        { [CONTEXT_HEADER]: await h.context({ principalType: 'internal', tenantId: t.tenantId }) },
      ];
      for (const headers of tenantContexts) {
        const unsuspend = await h.http.put(path(t.tenantId)).set(headers).send({ status: 'active', reason: 'me' });
        expectProblem(unsuspend, 403);
        expectProblem(await h.http.get(path(t.tenantId)).set(headers), 403);
        expectProblem(await h.http.post('/internal/api-keys/verify').set(headers).send({ key: 'tsk_x' }), 403);
      }
      expectProblem(await h.http.put(path(t.tenantId)).send({ status: 'active', reason: 'me' }), 401);
      expect(await statusInDb(t.tenantId)).toBe('suspended');
      expect((await statusEvents(t.tenantId)).map((e) => e.data.to)).toEqual(['suspended']);
    });

    it('has no public (/v1) route that changes a status', async () => {
      const t = await h.signup();
      const owner = await h.userHeaders(h.ownerOf(t));
      for (const [method, url] of [
        ['put', `/v1/tenants/${t.tenantId}/status`],
        ['patch', `/v1/tenants/${t.tenantId}`],
        ['post', `/v1/tenants/${t.tenantId}/activate`],
      ] as const) {
        expectProblem(await h.http[method](url).set(owner).send({ status: 'active', reason: 'me' }), 404);
      }
      expect(await statusInDb(t.tenantId)).toBe('trial');
    });
  });

  it('suspension refuses login, refresh, tenant routes and reports it to API key verification; reactivation restores them', async () => {
    const t = await h.signup();
    await h.setTenantStatus(t.tenantId, 'active', 'paid');
    const tokens = (await login(t)).body as { refreshToken: string };
    const key = (
      await h.http
        .post('/v1/api-keys')
        .set(await h.userHeaders(h.ownerOf(t)))
        .send({ name: 'ops', scopes: ['orders:read'] })
    ).body.key as string;
    const verifyKey = async () =>
      h.http
        .post('/internal/api-keys/verify')
        .set(await h.internalHeaders())
        .send({ key });

    await h.setTenantStatus(t.tenantId, 'suspended', 'unpaid');
    expectProblem(await login(t), 403);
    expectProblem(await refresh(tokens.refreshToken), 403);
    expectProblem(await h.http.get('/v1/me').set(await h.userHeaders(h.ownerOf(t))), 403);
    expect((await verifyKey()).body.tenantStatus).toBe('suspended');
    expect((await get(t.tenantId)).body.status).toBe('suspended');

    await h.setTenantStatus(t.tenantId, 'active', 'paid up');
    const again = await login(t);
    expect(again.status).toBe(200);
    // The refresh token held through the suspension was not revoked: it works again.
    const refreshed = await refresh(tokens.refreshToken);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.accessToken).toEqual(expect.any(String));
    expect((await h.http.get('/v1/me').set(await h.headersFromAccessToken(again.body.accessToken))).status).toBe(200);
    expect((await verifyKey()).body.tenantStatus).toBe('active');
    expect((await get(t.tenantId)).body.status).toBe('active');
  });

  it('the identity:tenant-status tool changes a status over HTTP with the internal secret', async () => {
    const t = await h.signup();
    const identityUrl = (await h.app.getUrl()).replace('[::1]', '127.0.0.1');
    const ok = await requestTenantStatus({
      identityUrl,
      internalTokenSecret: INTERNAL_SECRET,
      tenantId: t.tenantId,
      status: 'suspended',
      reason: 'from the tool',
    });
    expect(ok).toEqual({
      status: 200,
      body: { tenantId: t.tenantId, status: 'suspended', previousStatus: 'trial', changed: true },
    });
    const bad = await requestTenantStatus({
      identityUrl,
      internalTokenSecret: INTERNAL_SECRET,
      tenantId: t.tenantId,
      status: 'closed',
      reason: 'x',
    });
    expect(bad.status).toBe(400);
    const wrongSecret = await requestTenantStatus({
      identityUrl,
      internalTokenSecret: 'another-secret-of-at-least-32-characters',
      tenantId: t.tenantId,
      status: 'active',
      reason: 'x',
    });
    expect(wrongSecret.status).toBe(401);
    expect(await statusInDb(t.tenantId)).toBe('suspended');
  });
});
