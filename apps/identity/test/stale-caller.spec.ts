import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { expectProblem, IdentityHarness, type SignedUp } from './support/identity-harness';

/**
 * ActiveTenantGuard reads the caller's role and status before the write's own transaction starts. These tests hold
 * the write between the two (a superuser lock it must wait on), commit a demotion or deactivation meanwhile, and
 * check that the write is decided on the caller as it is now, not as the guard saw it.
 */
describe('writes decided on the caller as of their own transaction', () => {
  let h: IdentityHarness;
  let locker: Client;
  beforeAll(async () => {
    h = await IdentityHarness.start();
    locker = new Client({ connectionString: h.db.url });
    await locker.connect();
  });
  afterAll(async () => {
    await locker.end();
    await h.close();
  });

  /** Runs `stalled` while the idempotency claims wait on a table lock, `meanwhile` in between; returns the stalled answer. */
  async function stallClaims<T>(stalled: () => Promise<T>, meanwhile: () => Promise<void>): Promise<T> {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE identity.idempotency_keys IN ACCESS EXCLUSIVE MODE');
    const answer = stalled();
    try {
      await h.untilLockWaiters(1);
      await meanwhile();
    } finally {
      await locker.query('COMMIT');
    }
    return answer;
  }

  async function twoOwners(): Promise<{ t: SignedUp; a: { tenantId: string; userId: string; role: 'owner' }; b: Awaited<ReturnType<IdentityHarness['addUser']>> }> {
    const t = await h.signup();
    return { t, a: h.ownerOf(t) as { tenantId: string; userId: string; role: 'owner' }, b: await h.addUser(t, 'owner') };
  }

  it('an owner demoted while its POST /v1/users waits cannot create an owner', async () => {
    const { a, b } = await twoOwners();
    const email = `backdoor-${randomUUID()}@example.com`;
    const res = await stallClaims(
      async () =>
        h.http
          .post('/v1/users')
          .set({ ...(await h.userHeaders(b)), 'Idempotency-Key': randomUUID() })
          .send({ email, name: 'Back Door', role: 'owner', password: 'a long password' }),
      async () => {
        const demote = await h.http.patch(`/v1/users/${b.userId}`).set(await h.userHeaders(a)).send({ role: 'viewer' });
        expect(demote.status).toBe(200);
      },
    );
    expectProblem(res, 401);
    expect(res.body.reason).toBe('role_changed');
    const { rows } = await h.admin.query('SELECT 1 FROM identity.users WHERE email = $1', [email]);
    expect(rows).toHaveLength(0);
  });

  it('an admin deactivated while its POST /v1/api-keys waits gets no key', async () => {
    const t = await h.signup();
    const admin = await h.addUser(t, 'admin');
    const res = await stallClaims(
      async () =>
        h.http
          .post('/v1/api-keys')
          .set({ ...(await h.userHeaders(admin)), 'Idempotency-Key': randomUUID() })
          .send({ name: 'leaving with it', scopes: ['orders:write'] }),
      async () => {
        const off = await h.http.post(`/v1/users/${admin.userId}/deactivate`).set(await h.userHeaders(h.ownerOf(t))).send();
        expect(off.status).toBe(200);
      },
    );
    expectProblem(res, 401);
    const { rows } = await h.admin.query('SELECT 1 FROM identity.api_keys WHERE tenant_id = $1', [t.tenantId]);
    expect(rows).toHaveLength(0);
  });

  it('an owner demoted by another while its own role change waits cannot promote itself back', async () => {
    const { t, a, b } = await twoOwners();
    // Both role changes queue on the tenant's users lock, A's first; B's guard has already read B as an owner.
    const key = `tessera.identity.users:${t.tenantId}`;
    await locker.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]);
    let demote: Promise<{ status: number }>;
    let promote: Promise<{ status: number; body: { reason?: string } }>;
    try {
      demote = h.http.patch(`/v1/users/${b.userId}`).set(await h.userHeaders(a)).send({ role: 'viewer' }).then((r) => r);
      await h.untilLockWaiters(1);
      promote = h.http.patch(`/v1/users/${b.userId}`).set(await h.userHeaders(b)).send({ role: 'owner' }).then((r) => r);
      await h.untilLockWaiters(2);
    } finally {
      await locker.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]);
    }
    expect((await demote).status).toBe(200);
    const refused = await promote;
    expect(refused.status).toBe(401);
    expect(refused.body.reason).toBe('role_changed');
    const { rows } = await h.admin.query<{ role: string }>('SELECT role FROM identity.users WHERE id = $1', [b.userId]);
    expect(rows[0].role).toBe('viewer');
  });
});
