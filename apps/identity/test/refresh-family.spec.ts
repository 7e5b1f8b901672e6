import { Client } from 'pg';
import { expectProblem, IdentityHarness, type SignedUp } from './support/identity-harness';

/**
 * A session's refreshes meeting its revocations (a rotated token replayed, a logout, the user's deactivation),
 * interleaved by a superuser lock that holds one side where the test wants it. Whatever the order, no token of the
 * family may stay usable, and neither side fails.
 */
describe('refresh token families under concurrent revocation', () => {
  let h: IdentityHarness;
  let t: SignedUp;
  let locker: Client;
  beforeAll(async () => {
    h = await IdentityHarness.start();
    t = await h.signup();
    locker = new Client({ connectionString: h.db.url });
    await locker.connect();
  });
  afterAll(async () => {
    await locker.end();
    await h.close();
  });

  const call = async (path: string, body: object) =>
    h.http.post(path).set(await h.anonymousHeaders()).set('x-forwarded-for', '203.0.113.77').send(body);

  /** Refreshes `live` while `tenants` is locked, runs `revoke` meanwhile, and returns both answers. */
  async function refreshDuring(live: string, revoke: () => Promise<{ status: number }>) {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE identity.tenants IN ACCESS EXCLUSIVE MODE');
    let refreshed: Promise<{ status: number; body: { refreshToken?: string } }>;
    let revoked: Promise<{ status: number }>;
    try {
      refreshed = call('/v1/auth/refresh', { refreshToken: live }).then((r) => r);
      await h.untilLockWaiters(1);
      revoked = revoke();
      // Let the revocation reach the database before the refresh goes on.
      await new Promise((r) => setTimeout(r, 150));
    } finally {
      await locker.query('COMMIT');
    }
    return { refreshed: await refreshed, revoked: await revoked };
  }

  /** The refresh either lost to the revocation (401) or issued a token the revocation then took: none is live. */
  async function expectSessionEnded(refreshed: { status: number; body: { refreshToken?: string } }): Promise<void> {
    if (refreshed.status === 200) expectProblem(await call('/v1/auth/refresh', { refreshToken: String(refreshed.body.refreshToken) }), 401);
    else expectProblem(refreshed as never, 401);
    const { rows } = await h.admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM identity.refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL AND rotated_at IS NULL`,
      [t.userId],
    );
    expect(rows[0].n).toBe(0);
  }

  const loginPair = async () => (await call('/v1/auth/login', { email: t.email, password: t.password })).body as { refreshToken: string };

  it('a rotated token replayed while the live one is refreshed revokes the token that refresh issues', async () => {
    const first = await loginPair();
    const second = (await call('/v1/auth/refresh', { refreshToken: first.refreshToken })).body as { refreshToken: string };
    const { refreshed, revoked } = await refreshDuring(second.refreshToken, () =>
      call('/v1/auth/refresh', { refreshToken: first.refreshToken }).then((r) => r),
    );
    expect(revoked.status).toBe(401);
    await expectSessionEnded(refreshed);
  });

  it('a logout sent while the session refreshes ends the session', async () => {
    const first = await loginPair();
    const { refreshed, revoked } = await refreshDuring(first.refreshToken, () =>
      call('/v1/auth/logout', { refreshToken: first.refreshToken }).then((r) => r),
    );
    expect(revoked.status).toBe(204);
    await expectSessionEnded(refreshed);
  });

  it('a refresh that took the token before the user row was locked for deactivation finishes: no deadlock, no 500', async () => {
    const user = await h.addUser(t, 'staff');
    const pair = (await call('/v1/auth/login', { email: user.email, password: user.password })).body as { refreshToken: string };
    // The refresh waits on its token's row, and the deactivation, which has locked the user, queues behind it there;
    // then the refresh takes the token and inserts the next one, which references the user.
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM identity.refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL FOR UPDATE`, [user.userId]);
    let refreshed: Promise<{ status: number }>;
    let deactivated: Promise<{ status: number }>;
    try {
      refreshed = call('/v1/auth/refresh', { refreshToken: pair.refreshToken }).then((r) => r);
      await h.untilLockWaiters(1);
      deactivated = h.http
        .post(`/v1/users/${user.userId}/deactivate`)
        .set(await h.userHeaders(h.ownerOf(t)))
        .send()
        .then((r) => r);
      await h.untilLockWaiters(2);
    } finally {
      await locker.query('COMMIT');
    }
    expect((await deactivated).status).toBe(200);
    expect([200, 401]).toContain((await refreshed).status);
    // Whatever the refresh issued, the deactivated user cannot refresh again.
    const { rows } = await h.admin.query<{ status: string }>('SELECT status FROM identity.users WHERE id = $1', [user.userId]);
    expect(rows[0].status).toBe('deactivated');
  });
});
