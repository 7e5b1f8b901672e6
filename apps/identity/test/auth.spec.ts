import { decodeProtectedHeader, decodeJwt } from 'jose';
import { expectProblem, IdentityHarness, type SignedUp } from './support/identity-harness';

describe('signup, login, refresh', () => {
  let h: IdentityHarness;
  beforeAll(async () => {
    h = await IdentityHarness.start({
      env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_ADDRESS: '6' },
    });
  });
  afterAll(async () => {
    await h.close();
  });

  const login = async (email: string, password: string, address = '203.0.113.1') =>
    h.http
      .post('/v1/auth/login')
      .set(await h.anonymousHeaders())
      .set('x-forwarded-for', address)
      .send({ email, password });

  describe('POST /v1/tenants', () => {
    it('creates the tenant and its owner, with both events in the outbox', async () => {
      const res = await h.http
        .post('/v1/tenants')
        .set(await h.anonymousHeaders())
        .send({
          name: 'Brick Haven',
          slug: 'brick-haven',
          type: 'mall',
          defaultCurrency: 'EUR',
          owner: { email: 'Ada@Example.com', password: 'a long password', name: 'Ada' },
        });
      expect(res.status).toBe(201);
      expect(res.body.tenant).toMatchObject({
        slug: 'brick-haven',
        name: 'Brick Haven',
        type: 'mall',
        defaultCurrency: 'EUR',
        status: 'trial',
      });
      expect(res.body.user).toMatchObject({ email: 'ada@example.com', name: 'Ada', role: 'owner' });
      expect(res.body.user.passwordHash).toBeUndefined();
      expect(await h.outboxTypes(res.body.tenant.id)).toEqual(['identity.tenant.created', 'identity.user.created']);
      const { rows: events } = await h.admin.query(
        `SELECT envelope FROM identity.outbox_events WHERE tenant_id = $1 ORDER BY seq`,
        [res.body.tenant.id],
      );
      expect(events[0].envelope).toMatchObject({
        specversion: '1.0',
        source: 'identity',
        type: 'identity.tenant.created',
        subject: res.body.tenant.id,
        tenantid: res.body.tenant.id,
        data: {
          tenantId: res.body.tenant.id,
          slug: 'brick-haven',
          type: 'mall',
          defaultCurrency: 'EUR',
          plan: 'free',
          status: 'trial',
        },
      });
      expect(events[1].envelope).toMatchObject({
        subject: res.body.user.id,
        data: { userId: res.body.user.id, role: 'owner', email: 'ada@example.com' },
      });
      const { rows } = await h.admin.query('SELECT password_hash FROM identity.users WHERE id = $1', [
        res.body.user.id,
      ]);
      expect(rows[0].password_hash).toMatch(/^\$argon2id\$/);
    });

    it('defaults type and currency', async () => {
      const res = await h.http
        .post('/v1/tenants')
        .set(await h.anonymousHeaders())
        .send({
          name: 'Plain',
          slug: 'plain-shop',
          owner: { email: 'plain@example.com', password: 'a long password', name: 'P' },
        });
      expect(res.status).toBe(201);
      expect(res.body.tenant).toMatchObject({ type: 'single_brand', defaultCurrency: 'USD' });
    });

    it('answers 409 on a taken slug or email and leaves nothing behind', async () => {
      const first = await h.signup();
      const slugTaken = await h.http
        .post('/v1/tenants')
        .set(await h.anonymousHeaders())
        .send({
          name: 'X',
          slug: first.slug,
          owner: { email: 'someone-new@example.com', password: 'a long password', name: 'X' },
        });
      expectProblem(slugTaken, 409);
      expect(slugTaken.body.reason).toBe('slug_taken');

      // The tenant insert succeeds, the owner insert fails: the whole transaction, events included, rolls back.
      const emailTaken = await h.http
        .post('/v1/tenants')
        .set(await h.anonymousHeaders())
        .send({
          name: 'Y',
          slug: 'fresh-slug-1',
          owner: { email: first.email.toUpperCase(), password: 'a long password', name: 'Y' },
        });
      expectProblem(emailTaken, 409);
      expect(emailTaken.body.reason).toBe('email_taken');
      const { rows } = await h.admin.query(
        `SELECT count(*)::int AS n FROM identity.tenants WHERE slug = 'fresh-slug-1'`,
      );
      expect(rows[0].n).toBe(0);
      const events = await h.admin.query(
        `SELECT count(*)::int AS n FROM identity.outbox_events WHERE envelope->'data'->>'slug' = 'fresh-slug-1'`,
      );
      expect(events.rows[0].n).toBe(0);
    });

    it('refuses bad input with field errors and creates nothing', async () => {
      const before = await h.rowCounts();
      const res = await h.http
        .post('/v1/tenants')
        .set(await h.anonymousHeaders())
        .send({
          name: '',
          slug: 'Bad Slug',
          type: 'kiosk',
          defaultCurrency: 'EURO',
          owner: { email: 'nope', password: 'short', name: 'N' },
        });
      expectProblem(res, 400);
      const fields = (res.body.errors as { field: string }[]).map((e) => e.field);
      expect(fields).toEqual(
        expect.arrayContaining(['name', 'slug', 'type', 'defaultCurrency', 'owner.email', 'owner.password']),
      );
      // A body valid but for one field: still refused whole, no tenant without its owner or the other way round.
      const valid = {
        name: 'Almost',
        slug: 'almost-valid',
        owner: { email: 'almost@example.com', password: 'a long password', name: 'A' },
      };
      for (const body of [
        { ...valid, plan: 'enterprise' },
        { ...valid, status: 'active' },
        { ...valid, owner: { ...valid.owner, role: 'admin' } },
        { ...valid, owner: { ...valid.owner, password: 'short' } },
        { ...valid, type: 'kiosk' },
      ]) {
        expectProblem(await h.http.post('/v1/tenants').set(await h.anonymousHeaders()).send(body), 400);
      }
      expect(await h.rowCounts()).toEqual(before);
      const { rows } = await h.admin.query(
        `SELECT (SELECT count(*)::int FROM identity.tenants WHERE slug = 'almost-valid') AS tenants,
                (SELECT count(*)::int FROM identity.users WHERE email = 'almost@example.com') AS users`,
      );
      expect(rows[0]).toEqual({ tenants: 0, users: 0 });
    });
  });

  describe('POST /v1/auth/login', () => {
    let t: SignedUp;
    beforeAll(async () => {
      t = await h.signup();
    });

    it('returns an ES256 access token with the contract claims and a refresh token', async () => {
      const res = await login(t.email, t.password, '198.51.100.10');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
      expect(decodeProtectedHeader(res.body.accessToken)).toMatchObject({ alg: 'ES256', kid: 'test-key-1' });
      const claims = decodeJwt(res.body.accessToken);
      expect(claims).toMatchObject({
        sub: t.userId,
        tid: t.tenantId,
        roles: ['owner'],
        tenant_status: 'trial',
        iss: 'tessera-identity',
        aud: 'tessera',
      });
      expect(Number(claims.exp) - Number(claims.iat)).toBe(900);
      expect(typeof res.body.refreshToken).toBe('string');
      // The gateway verifies against the published JWKS and forwards the caller: /v1/me works with it.
      const me = await h.http.get('/v1/me').set(await h.headersFromAccessToken(res.body.accessToken));
      expect(me.status).toBe(200);
      expect(me.body.user).toMatchObject({ id: t.userId, email: t.email, role: 'owner' });
      expect(me.body.tenant).toMatchObject({ id: t.tenantId, slug: t.slug });
    });

    it('logs in with an email exactly as registered, also one PostgreSQL lower-cases differently from JavaScript', async () => {
      const email = `İrem-${Date.now()}@Example.com`;
      const fresh = await h.signup({ email });
      for (const [i, as] of [email, email.toLowerCase()].entries()) {
        const res = await login(as, fresh.password, `198.51.100.${40 + i}`);
        expect([as, res.status]).toEqual([as, 200]);
      }
    });

    it('publishes only public keys in the JWKS', async () => {
      const res = await h.http.get('/.well-known/jwks.json').set(await h.anonymousHeaders());
      expect(res.status).toBe(200);
      expect(res.body.keys).toHaveLength(1);
      expect(res.body.keys[0]).toMatchObject({ kid: 'test-key-1', kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(Object.keys(res.body.keys[0]).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    });

    it('gives the same 401 for a wrong password and an unknown email', async () => {
      const wrong = await login(t.email, 'not the password', '198.51.100.11');
      const unknown = await login('nobody@example.com', 'not the password', '198.51.100.12');
      expectProblem(wrong, 401);
      expectProblem(unknown, 401);
      expect(wrong.body.detail).toBe(unknown.body.detail);
      expect(wrong.body.title).toBe(unknown.body.title);
    });

    it('throttles an account after repeated failures with 429 and Retry-After, even with the right password', async () => {
      const victim = await h.signup();
      for (let i = 0; i < 3; i++) expectProblem(await login(victim.email, 'wrong guess', `192.0.2.${i + 1}`), 401);
      const blocked = await login(victim.email, victim.password, '192.0.2.50');
      expectProblem(blocked, 429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    });

    it('lets the owner in from an address they logged in from before while failures from elsewhere lock the account', async () => {
      const victim = await h.signup();
      const home = '192.0.2.77';
      expect((await login(victim.email, victim.password, home)).status).toBe(200);
      for (let i = 0; i < 3; i++) expectProblem(await login(victim.email, 'wrong guess', `198.51.100.${i + 60}`), 401);
      expectProblem(await login(victim.email, victim.password, '198.51.100.70'), 429);
      expect((await login(victim.email, victim.password, home)).status).toBe(200);
      // Being known is no licence to guess: the address has a budget of its own while the account is locked.
      for (let i = 0; i < 3; i++) expectProblem(await login(victim.email, 'wrong guess', `198.51.100.${i + 80}`), 401);
      for (let i = 0; i < 3; i++) expectProblem(await login(victim.email, 'wrong guess', home), 401);
      const blocked = await login(victim.email, victim.password, home);
      expectProblem(blocked, 429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      // An address known to one account is not known to another.
      const other = await h.signup();
      for (let i = 0; i < 3; i++) expectProblem(await login(other.email, 'wrong guess', `198.51.100.${i + 90}`), 401);
      expectProblem(await login(other.email, other.password, '192.0.2.78'), 429);
    });

    it('holds the account limit for guesses sent all at once: only as many are checked as the limit allows', async () => {
      const victim = await h.signup();
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => login(victim.email, `guess ${i}`, `203.0.113.${i + 1}`)));
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 401)).toHaveLength(3);
      expect(statuses.filter((s) => s === 429)).toHaveLength(9);
      expectProblem(await login(victim.email, victim.password, '203.0.113.99'), 429);
    });

    it('does not count successful logins against the address', async () => {
      const address = '192.0.2.150';
      for (let i = 0; i < 10; i++) expect((await login(t.email, t.password, address)).status).toBe(200);
    });

    it('throttles an address across accounts', async () => {
      const address = '192.0.2.200';
      for (let i = 0; i < 6; i++) expectProblem(await login(`ghost-${i}@example.com`, 'wrong guess', address), 401);
      const blocked = await login(t.email, t.password, address);
      expectProblem(blocked, 429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      expect((await login(t.email, t.password, '192.0.2.201')).status).toBe(200);
    });

    it('throttles an IPv6 client by its /64, whichever address in it each guess comes from', async () => {
      for (let i = 0; i < 6; i++) expectProblem(await login(`ghost6-${i}@example.com`, 'wrong guess', `2001:db8:0:7::${(i + 1).toString(16)}`), 401);
      expectProblem(await login(t.email, t.password, '2001:db8:0:7:ffff:ffff:ffff:ffff'), 429);
      // The next /64 is another client.
      expect((await login(t.email, t.password, '2001:db8:0:8::1')).status).toBe(200);
    });

    it('refuses bad input', async () => {
      const res = await h.http
        .post('/v1/auth/login')
        .set(await h.anonymousHeaders())
        .send({ email: 5, password: ['x'], extra: true });
      expectProblem(res, 400);
      expect((res.body.errors as { field: string }[]).map((e) => e.field)).toEqual(
        expect.arrayContaining(['email', 'password', 'extra']),
      );
    });

    it("bad input (400) uses up neither the account's nor the address's failed-login allowance", async () => {
      const victim = await h.signup();
      const address = '192.0.2.240';
      const BAD: object[] = [
        { email: victim.email },
        { email: victim.email, password: '' },
        { email: victim.email, password: 42 },
        { email: victim.email, password: ['x'] },
        { email: victim.email, password: 'x'.repeat(257) },
        { email: victim.email, password: victim.password, extra: true },
        { email: victim.email.toUpperCase(), password: 'wrong guess', remember: true },
        { password: victim.password },
      ];
      // More bad requests than either limit (3 per account, 6 per address), twice over.
      for (let round = 0; round < 2; round++) {
        for (const body of BAD) {
          const res = await h.http
            .post('/v1/auth/login')
            .set(await h.anonymousHeaders())
            .set('x-forwarded-for', address)
            .send(body);
          expectProblem(res, 400);
        }
        const malformed = await h.http
          .post('/v1/auth/login')
          .set(await h.anonymousHeaders())
          .set('x-forwarded-for', address)
          .set('content-type', 'application/json')
          .send(`{"email": "${victim.email}", "password": `);
        expectProblem(malformed, 400);
      }
      expect((await login(victim.email, victim.password, address)).status).toBe(200);
      // The throttle is on for this account and address: its 3 wrong guesses are then followed by a 429.
      for (let i = 0; i < 3; i++) expectProblem(await login(victim.email, 'wrong guess', address), 401);
      expectProblem(await login(victim.email, victim.password, address), 429);
    });

    it('refuses a suspended tenant at login and refresh', async () => {
      const s = await h.signup();
      const tokens = (await login(s.email, s.password, '198.51.100.20')).body;
      await h.setTenantStatus(s.tenantId, 'suspended');
      expectProblem(await login(s.email, s.password, '198.51.100.20'), 403);
      expectProblem(
        await h.http
          .post('/v1/auth/refresh')
          .set(await h.anonymousHeaders())
          .send({ refreshToken: tokens.refreshToken }),
        403,
      );
      expectProblem(await h.http.get('/v1/me').set(await h.userHeaders(h.ownerOf(s))), 403);
    });
  });

  describe('POST /v1/auth/refresh', () => {
    const refresh = async (refreshToken: string) =>
      h.http
        .post('/v1/auth/refresh')
        .set(await h.anonymousHeaders())
        .send({ refreshToken });

    it('rotates: the new pair works, the old token is refused, and reusing it revokes the family', async () => {
      const t = await h.signup();
      const first = (await login(t.email, t.password, '198.51.100.30')).body;
      const second = await refresh(first.refreshToken);
      expect(second.status).toBe(200);
      expect(second.body.refreshToken).not.toBe(first.refreshToken);
      expect(decodeJwt(second.body.accessToken).sub).toBe(t.userId);

      // The rotated token comes back (stolen copy): 401, and the live token of the family dies too.
      expectProblem(await refresh(first.refreshToken), 401);
      expectProblem(await refresh(second.body.refreshToken), 401);
      const { rows } = await h.admin.query(
        'SELECT count(*) FILTER (WHERE revoked_at IS NULL)::int AS live, count(*)::int AS total FROM identity.refresh_tokens WHERE user_id = $1',
        [t.userId],
      );
      expect(rows[0]).toEqual({ live: 0, total: 2 });

      // Another login starts a new family that works.
      const again = (await login(t.email, t.password, '198.51.100.30')).body;
      expect((await refresh(again.refreshToken)).status).toBe(200);
    });

    it('stores only the SHA-256 of refresh tokens', async () => {
      const t = await h.signup();
      const { refreshToken } = (await login(t.email, t.password, '198.51.100.31')).body;
      const { rows } = await h.admin.query(
        `SELECT encode(token_hash, 'hex') AS hash FROM identity.refresh_tokens WHERE user_id = $1`,
        [t.userId],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0].hash).not.toContain(refreshToken);
      expect(rows[0].hash).toHaveLength(64);
    });

    it('refuses unknown tokens and bad input', async () => {
      expectProblem(await refresh('not-a-token-we-issued'), 401);
      expectProblem(
        await h.http
          .post('/v1/auth/refresh')
          .set(await h.anonymousHeaders())
          .send({ refreshToken: 42 }),
        400,
      );
      expectProblem(
        await h.http
          .post('/v1/auth/refresh')
          .set(await h.anonymousHeaders())
          .send({}),
        400,
      );
    });

    it('a deactivated user can neither log in nor refresh', async () => {
      const t = await h.signup();
      const staff = await h.addUser(t, 'staff');
      const loggedIn = await login(staff.email, staff.password, '198.51.100.40');
      expect(loggedIn.status).toBe(200);
      const tokens = loggedIn.body;
      const res = await h.http.post(`/v1/users/${staff.userId}/deactivate`).set(await h.userHeaders(h.ownerOf(t)));
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('deactivated');
      expectProblem(await login(staff.email, staff.password, '198.51.100.40'), 401);
      expectProblem(await refresh(tokens.refreshToken), 401);
      // A still-unexpired access token of theirs no longer opens identity's routes either.
      expectProblem(await h.http.get('/v1/me').set(await h.userHeaders(staff)), 401);
    });
  });

  describe('POST /v1/auth/logout', () => {
    const call = async (path: string, body: unknown) => h.http.post(path).set(await h.anonymousHeaders()).send(body as object);

    it('ends the session: the token and every token rotated from the same login are refused, other sessions live on', async () => {
      const t = await h.signup();
      const first = (await login(t.email, t.password, '198.51.100.50')).body;
      const other = (await login(t.email, t.password, '198.51.100.50')).body;
      const second = (await call('/v1/auth/refresh', { refreshToken: first.refreshToken })).body;
      const out = await call('/v1/auth/logout', { refreshToken: second.refreshToken });
      expect(out.status).toBe(204);
      expectProblem(await call('/v1/auth/refresh', { refreshToken: second.refreshToken }), 401);
      // Logging out again, or with a token nobody issued, answers the same and changes nothing.
      expect((await call('/v1/auth/logout', { refreshToken: second.refreshToken })).status).toBe(204);
      expect((await call('/v1/auth/logout', { refreshToken: 'no-such-token' })).status).toBe(204);
      expect((await call('/v1/auth/refresh', { refreshToken: other.refreshToken })).status).toBe(200);
      const { rows } = await h.admin.query(
        'SELECT count(*) FILTER (WHERE revoked_at IS NULL AND rotated_at IS NULL)::int AS live FROM identity.refresh_tokens WHERE user_id = $1',
        [t.userId],
      );
      // The other session's token, rotated once: its current one.
      expect(rows[0]).toEqual({ live: 1 });
    });

    it('refuses a body without a refresh token string with 400 and revokes nothing', async () => {
      const t = await h.signup();
      const pair = (await login(t.email, t.password, '198.51.100.51')).body;
      for (const body of [{}, { refreshToken: 12 }, { refreshToken: '' }, { refreshToken: 'x'.repeat(201) }, { refreshToken: pair.refreshToken, all: true }]) {
        expectProblem(await call('/v1/auth/logout', body), 400);
      }
      expect((await call('/v1/auth/refresh', { refreshToken: pair.refreshToken })).status).toBe(200);
    });
  });
});
