import { randomUUID } from 'node:crypto';
import { ROLES, type Role } from '@tessera/contracts';
import { expectProblem, IdentityHarness, type SignedUp } from './support/identity-harness';

/** The roles that `@Roles('owner', 'admin')` on the user-management routes leaves out. */
const BELOW_ADMIN = ROLES.filter((role) => role !== 'owner' && role !== 'admin');

describe('users', () => {
  let h: IdentityHarness;
  let t: SignedUp;
  beforeAll(async () => {
    h = await IdentityHarness.start();
    t = await h.signup();
  });
  afterAll(async () => {
    await h.close();
  });

  const login = async (user: { email: string; password: string }) =>
    h.http
      .post('/v1/auth/login')
      .set(await h.anonymousHeaders())
      .set('x-forwarded-for', '198.51.100.60')
      .send({ email: user.email, password: user.password });

  it('POST /v1/users creates a user and emits identity.user.created', async () => {
    const res = await h.http
      .post('/v1/users')
      .set(await h.userHeaders(h.ownerOf(t)))
      .send({ email: 'Picker@Example.com', name: 'Pat', role: 'picker', password: 'a long password' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ email: 'picker@example.com', name: 'Pat', role: 'picker', status: 'active' });
    expect(res.body.passwordHash).toBeUndefined();
    expect(await h.outboxTypes(t.tenantId)).toContain('identity.user.created');
  });

  it('answers 409 on an email used in any tenant', async () => {
    const other = await h.signup();
    const res = await h.http
      .post('/v1/users')
      .set(await h.userHeaders(h.ownerOf(t)))
      .send({ email: other.email, name: 'Dup', role: 'staff', password: 'a long password' });
    expectProblem(res, 409);
  });

  it('refuses bad input: unknown role, unknown field, wrong types', async () => {
    const res = await h.http
      .post('/v1/users')
      .set(await h.userHeaders(h.ownerOf(t)))
      .send({ email: 'x@example.com', name: 7, role: 'emperor', password: 'a long password', admin: true });
    expectProblem(res, 400);
    expect((res.body.errors as { field: string }[]).map((e) => e.field)).toEqual(
      expect.arrayContaining(['name', 'role', 'admin']),
    );
  });

  it('only owners and admins create users, and an admin cannot create an owner', async () => {
    const admin = await h.addUser(t, 'admin');
    const staff = await h.addUser(t, 'staff');
    const body = (role: string) => ({
      email: `${randomUUID()}@example.com`,
      name: 'N',
      role,
      password: 'a long password',
    });
    expectProblem(
      await h.http
        .post('/v1/users')
        .set(await h.userHeaders(staff))
        .send(body('staff')),
      403,
    );
    expectProblem(
      await h.http
        .post('/v1/users')
        .set(await h.userHeaders(admin))
        .send(body('owner')),
      403,
    );
    expect(
      (
        await h.http
          .post('/v1/users')
          .set(await h.userHeaders(admin))
          .send(body('manager'))
      ).status,
    ).toBe(201);
  });

  it("GET /v1/users pages with a cursor and shows only the tenant's users", async () => {
    const mine = await h.signup();
    for (let i = 0; i < 4; i++) await h.addUser(mine, 'staff');
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await h.http
        .get('/v1/users')
        .query(cursor ? { limit: 2, cursor } : { limit: 2 })
        .set(await h.userHeaders(h.ownerOf(mine)));
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((u) => u.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(5);
    expect(seen).toContain(mine.userId);
    expect(seen).not.toContain(t.userId);

    expectProblem(
      await h.http
        .get('/v1/users')
        .query({ cursor: 'garbage!' })
        .set(await h.userHeaders(h.ownerOf(mine))),
      400,
    );
    expectProblem(
      await h.http
        .get('/v1/users')
        .query({ limit: 1000 })
        .set(await h.userHeaders(h.ownerOf(mine))),
      400,
    );
  });

  it('PATCH /v1/users/:id changes name and role and emits identity.user.updated', async () => {
    const staff = await h.addUser(t, 'staff');
    const res = await h.http
      .patch(`/v1/users/${staff.userId}`)
      .set(await h.userHeaders(h.ownerOf(t)))
      .send({ name: 'Renamed', role: 'manager' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: staff.userId, name: 'Renamed', role: 'manager' });
    const { rows } = await h.admin.query(
      `SELECT envelope->'data' AS data FROM identity.outbox_events WHERE type = 'identity.user.updated' AND envelope->>'subject' = $1`,
      [staff.userId],
    );
    expect(rows[0].data).toEqual({ userId: staff.userId, tenantId: t.tenantId, name: 'Renamed', role: 'manager' });
    // The same values again, or nothing at all: 200 with the user as it is, no write and no second event.
    const updatedAt = async () => (await h.admin.query(`SELECT updated_at::text AS at FROM identity.users WHERE id = $1`, [staff.userId])).rows[0].at;
    const before = await updatedAt();
    for (const body of [{ name: 'Renamed', role: 'manager' }, {}, { role: 'manager' }]) {
      const same = await h.http.patch(`/v1/users/${staff.userId}`).set(await h.userHeaders(h.ownerOf(t))).send(body);
      expect(same.status).toBe(200);
      expect(same.body).toMatchObject({ name: 'Renamed', role: 'manager' });
    }
    expect(await updatedAt()).toBe(before);
    const events = await h.admin.query(`SELECT 1 FROM identity.outbox_events WHERE type = 'identity.user.updated' AND envelope->>'subject' = $1`, [staff.userId]);
    expect(events.rowCount).toBe(1);
    expectProblem(
      await h.http
        .patch(`/v1/users/${staff.userId}`)
        .set(await h.userHeaders(h.ownerOf(t)))
        .send({ role: 'king' }),
      400,
    );
    expectProblem(
      await h.http
        .patch(`/v1/users/${staff.userId}`)
        .set(await h.userHeaders(h.ownerOf(t)))
        .send({ email: 'x@y.z' }),
      400,
    );
    // Neither field can be cleared: null is bad input, not a database error, and changes nothing.
    for (const body of [{ name: null }, { role: null }, { name: null, role: 'staff' }]) {
      expectProblem(
        await h.http
          .patch(`/v1/users/${staff.userId}`)
          .set(await h.userHeaders(h.ownerOf(t)))
          .send(body),
        400,
      );
    }
    const { rows: after } = await h.admin.query(`SELECT name, role FROM identity.users WHERE id = $1`, [staff.userId]);
    expect(after[0]).toEqual({ name: 'Renamed', role: 'manager' });
    expectProblem(
      await h.http
        .patch(`/v1/users/not-a-uuid`)
        .set(await h.userHeaders(h.ownerOf(t)))
        .send({ name: 'x' }),
      400,
    );
  });

  it('an admin cannot promote to owner or touch an owner; the last owner stays', async () => {
    const fresh = await h.signup();
    const admin = await h.addUser(fresh, 'admin');
    expectProblem(
      await h.http
        .patch(`/v1/users/${admin.userId}`)
        .set(await h.userHeaders(admin))
        .send({ role: 'owner' }),
      403,
    );
    expectProblem(
      await h.http
        .patch(`/v1/users/${fresh.userId}`)
        .set(await h.userHeaders(admin))
        .send({ role: 'viewer' }),
      403,
    );
    expectProblem(await h.http.post(`/v1/users/${fresh.userId}/deactivate`).set(await h.userHeaders(admin)), 403);
    // The only owner cannot demote themselves.
    expectProblem(
      await h.http
        .patch(`/v1/users/${fresh.userId}`)
        .set(await h.userHeaders(h.ownerOf(fresh)))
        .send({ role: 'admin' }),
      409,
    );
  });

  it('roles below owner and admin cannot change a user (403): not another user, not an owner, not themselves', async () => {
    const fresh = await h.signup();
    const target = await h.addUser(fresh, 'staff');
    const actors: { userId: string; role: Role; email: string; password: string }[] = [];
    for (const role of BELOW_ADMIN) {
      const actor = await h.addUser(fresh, role);
      actors.push(actor);
      const attempts: [string, object][] = [
        [target.userId, { name: 'Hijacked', role: 'owner' }],
        [fresh.userId, { role: 'viewer' }],
        [actor.userId, { role: 'admin' }],
      ];
      for (const [id, body] of attempts) {
        const res = await h.http.patch(`/v1/users/${id}`).set(await h.userHeaders(actor)).send(body);
        expect([role, id, res.status]).toEqual([role, id, 403]);
        expectProblem(res, 403);
      }
    }
    const { rows } = await h.admin.query<{ id: string; name: string; role: string }>(
      'SELECT id, name, role FROM identity.users WHERE tenant_id = $1',
      [fresh.tenantId],
    );
    expect(Object.fromEntries(rows.map((r) => [r.id, [r.name, r.role]]))).toEqual({
      [fresh.userId]: ['Owner', 'owner'],
      [target.userId]: ['A staff', 'staff'],
      ...Object.fromEntries(actors.map((a) => [a.userId, [`A ${a.role}`, a.role]])),
    });
    expect(await h.outboxTypes(fresh.tenantId)).not.toContain('identity.user.updated');
  });

  it('deactivation: a malformed id is a 400 and roles below owner and admin get 403; the user stays active and can log in', async () => {
    const fresh = await h.signup();
    const target = await h.addUser(fresh, 'staff');
    for (const id of ['not-a-uuid', '1', `${target.userId}x`]) {
      expectProblem(await h.http.post(`/v1/users/${id}/deactivate`).set(await h.userHeaders(h.ownerOf(fresh))), 400);
    }
    const actors: { userId: string; role: Role; email: string; password: string }[] = [];
    for (const role of BELOW_ADMIN) {
      const actor = await h.addUser(fresh, role);
      actors.push(actor);
      for (const id of [target.userId, fresh.userId, actor.userId]) {
        const res = await h.http.post(`/v1/users/${id}/deactivate`).set(await h.userHeaders(actor));
        expect([role, id, res.status]).toEqual([role, id, 403]);
        expectProblem(res, 403);
      }
    }
    const { rows } = await h.admin.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM identity.users WHERE tenant_id = $1 GROUP BY status',
      [fresh.tenantId],
    );
    expect(rows).toEqual([{ status: 'active', n: 2 + BELOW_ADMIN.length }]);
    expect(await h.outboxTypes(fresh.tenantId)).not.toContain('identity.user.deactivated');
    for (const user of [target, { email: fresh.email, password: fresh.password }, actors[0]]) {
      const res = await login(user);
      expect([user.email, res.status]).toEqual([user.email, 200]);
    }
  });

  it("a demoted owner's token still naming the old role is refused (401 role_changed): it cannot promote itself back or demote the other", async () => {
    const fresh = await h.signup();
    const second = await h.addUser(fresh, 'owner');
    const demote = await h.http.patch(`/v1/users/${second.userId}`).set(await h.userHeaders(h.ownerOf(fresh))).send({ role: 'admin' });
    expect(demote.status).toBe(200);
    // The second owner's access token was issued before the change: its context still says owner.
    const stale = await h.userHeaders(second);
    for (const res of [
      await h.http.patch(`/v1/users/${second.userId}`).set(stale).send({ role: 'owner' }),
      await h.http.patch(`/v1/users/${fresh.userId}`).set(stale).send({ role: 'viewer' }),
      await h.http.post('/v1/api-keys').set(stale).send({ name: 'backdoor', scopes: ['users:write'] }),
    ]) {
      expectProblem(res, 401);
      expect(res.body.reason).toBe('role_changed');
    }
    const roles = await h.admin.query<{ id: string; role: string }>('SELECT id, role FROM identity.users WHERE tenant_id = $1', [fresh.tenantId]);
    expect(Object.fromEntries(roles.rows.map((r) => [r.id, r.role]))).toEqual({ [fresh.userId]: 'owner', [second.userId]: 'admin' });
    // With its current role it acts as an admin again.
    expect((await h.http.get('/v1/users').set(await h.userHeaders({ ...second, role: 'admin' }))).status).toBe(200);
  });

  it('two owners demoting or deactivating each other at the same moment: one succeeds, the other is refused, never a 500', async () => {
    for (const action of ['demote', 'deactivate', 'demote'] as const) {
      const fresh = await h.signup();
      const a = h.ownerOf(fresh);
      const b = await h.addUser(fresh, 'owner');
      const act = async (actor: { tenantId: string; userId: string; role: Role }, target: string) =>
        action === 'demote'
          ? h.http.patch(`/v1/users/${target}`).set(await h.userHeaders(actor)).send({ role: 'admin' })
          : h.http.post(`/v1/users/${target}/deactivate`).set(await h.userHeaders(actor));
      const [first, second] = await Promise.all([act(a, b.userId), act(b, a.userId)]);
      const statuses = [first.status, second.status].sort();
      expect([action, statuses[0]]).toEqual([action, 200]);
      expect([409, 401]).toContain(statuses[1]);
      const owners = await h.admin.query(`SELECT 1 FROM identity.users WHERE tenant_id = $1 AND role = 'owner' AND status = 'active'`, [fresh.tenantId]);
      expect(owners.rowCount).toBe(1);
    }
  });

  it('deactivation: not yourself, not the last owner; emits identity.user.deactivated', async () => {
    const fresh = await h.signup();
    const second = await h.addUser(fresh, 'owner');
    expectProblem(
      await h.http.post(`/v1/users/${fresh.userId}/deactivate`).set(await h.userHeaders(h.ownerOf(fresh))),
      409,
    );
    // Their own id in upper case is still themselves.
    for (const actor of [h.ownerOf(fresh), second]) {
      expectProblem(await h.http.post(`/v1/users/${actor.userId.toUpperCase()}/deactivate`).set(await h.userHeaders(actor)), 409);
    }
    const res = await h.http.post(`/v1/users/${fresh.userId.toUpperCase()}/deactivate`).set(await h.userHeaders(second));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: fresh.userId, status: 'deactivated' });
    expect(await h.outboxTypes(fresh.tenantId)).toContain('identity.user.deactivated');
    // `second` is now the last active owner (the deactivated one does not count): it cannot step down.
    expectProblem(
      await h.http
        .patch(`/v1/users/${second.userId}`)
        .set(await h.userHeaders(second))
        .send({ role: 'admin' }),
      409,
    );
  });

  it('deactivation takes no body: any field in one is a 400 naming it, and the user stays active', async () => {
    const fresh = await h.signup();
    const second = await h.addUser(fresh, 'admin');
    const res = await h.http.post(`/v1/users/${second.userId}/deactivate`).set(await h.userHeaders(h.ownerOf(fresh))).send({ status: 'active' });
    expectProblem(res, 400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['status']);
    const { rows } = await h.admin.query('SELECT status FROM identity.users WHERE id = $1', [second.userId]);
    expect(rows[0]).toEqual({ status: 'active' });
    expect(await h.outboxTypes(fresh.tenantId)).not.toContain('identity.user.deactivated');
  });

  it("tells internal callers a user's current status and role; nobody else", async () => {
    const fresh = await h.signup();
    const staff = await h.addUser(fresh, 'staff');
    const path = (tenantId: string, userId: string) => `/internal/tenants/${tenantId}/users/${userId}/status`;
    const internal = await h.internalHeaders();
    expect((await h.http.get(path(fresh.tenantId, staff.userId)).set(internal)).body).toEqual({ status: 'active', role: 'staff' });
    await h.http.patch(`/v1/users/${staff.userId}`).set(await h.userHeaders(h.ownerOf(fresh))).send({ role: 'manager' });
    await h.http.post(`/v1/users/${staff.userId}/deactivate`).set(await h.userHeaders(h.ownerOf(fresh)));
    expect((await h.http.get(path(fresh.tenantId, staff.userId)).set(internal)).body).toEqual({ status: 'deactivated', role: 'manager' });
    // Another tenant's user under this tenant, or an unknown one: 404; ids that are not UUIDs: 400.
    expectProblem(await h.http.get(path(t.tenantId, staff.userId)).set(internal), 404);
    expectProblem(await h.http.get(path(fresh.tenantId, 'nope')).set(internal), 400);
    for (const headers of [await h.userHeaders(h.ownerOf(fresh)), await h.anonymousHeaders()]) {
      expectProblem(await h.http.get(path(fresh.tenantId, staff.userId)).set(headers), 403);
    }
  });

  it("the internal user status: a malformed tenant id is a 400, a call without a caller context a 401", async () => {
    const fresh = await h.signup();
    const staff = await h.addUser(fresh, 'staff');
    const internal = await h.internalHeaders();
    for (const tenantId of ['not-a-uuid', '1', `${fresh.tenantId}x`]) {
      expectProblem(await h.http.get(`/internal/tenants/${tenantId}/users/${staff.userId}/status`).set(internal), 400);
    }
    const path = `/internal/tenants/${fresh.tenantId}/users/${staff.userId}/status`;
    const anonymous = await h.http.get(path);
    expectProblem(anonymous, 401);
    // The same call with the internal credential answers: the 401 was the missing context, not the ids.
    expect((await h.http.get(path).set(internal)).body).toEqual({ status: 'active', role: 'staff' });
  });

  it("another tenant's user is 404, not 403", async () => {
    const other = await h.signup();
    const headers = await h.userHeaders(h.ownerOf(t));
    expectProblem(await h.http.patch(`/v1/users/${other.userId}`).set(headers).send({ name: 'hijack' }), 404);
    expectProblem(await h.http.post(`/v1/users/${other.userId}/deactivate`).set(headers), 404);
    expectProblem(await h.http.patch(`/v1/users/${randomUUID()}`).set(headers).send({ name: 'ghost' }), 404);
    const { rows } = await h.admin.query('SELECT name, status FROM identity.users WHERE id = $1', [other.userId]);
    expect(rows[0]).toEqual({ name: 'Owner', status: 'active' });
  });

  it('viewers cannot list users; API keys cannot use /v1/me', async () => {
    const viewer = await h.addUser(t, 'viewer');
    expectProblem(await h.http.get('/v1/users').set(await h.userHeaders(viewer)), 403);
    const apiKeyCtx = await h.context({
      tenantId: t.tenantId,
      principalId: randomUUID(),
      principalType: 'api_key',
      scopes: ['x:read'],
    });
    expectProblem(await h.http.get('/v1/me').set('x-tessera-context', apiKeyCtx), 403);
  });
});
