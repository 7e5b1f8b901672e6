import { createHash, createHmac, randomBytes } from 'node:crypto';
import { IdempotencyKeysPurger } from '@tessera/persistence';
import { parseEncryptionKeys } from '../src/crypto/credentials-cipher';
import { uuidFromHash } from '../src/common/uuid-from-hash';
import { idempotencyFingerprintSecret } from '../src/crypto/fingerprint-secret';
import { expectProblem, IdentityHarness, type SignedUp } from './support/identity-harness';

/** A create route: its table, and a fresh valid body per call (`n` varies what must be unique). */
interface CreateRoute {
  path: string;
  table: string;
  mall?: boolean;
  body: (n: string) => Record<string, unknown>;
}

const ROUTES: CreateRoute[] = [
  {
    path: '/v1/users',
    table: 'users',
    body: (n) => ({ email: `staff-${n}@example.com`, name: 'Staff', role: 'staff', password: 'a long enough password' }),
  },
  {
    path: '/v1/stores',
    table: 'stores',
    body: (n) => ({ name: `Shop ${n}`, channel: 'brickowl', credentials: { apiKey: `secret-${n}` } }),
  },
  { path: '/v1/vendors', table: 'vendors', mall: true, body: (n) => ({ name: `Vendor ${n}`, commissionRate: 1000 }) },
  { path: '/v1/api-keys', table: 'api_keys', body: (n) => ({ name: `bot ${n}`, scopes: ['orders:read'] }) },
];

describe('Idempotency-Key on identity create routes', () => {
  let h: IdentityHarness;
  const tenants = new Map<string, SignedUp>();

  beforeAll(async () => {
    h = await IdentityHarness.start();
  });
  afterAll(async () => {
    await h.close();
  });

  const tenantFor = async (route: CreateRoute, name = 'a'): Promise<SignedUp> => {
    const id = `${name}:${route.mall ? 'mall' : 'brand'}`;
    if (!tenants.has(id)) tenants.set(id, await h.signup({ type: route.mall ? 'mall' : 'single_brand' }));
    return tenants.get(id) as SignedUp;
  };

  const create = async (t: SignedUp, path: string, body: object, key: string) =>
    h.http
      .post(path)
      .set({ ...(await h.userHeaders(h.ownerOf(t))), 'Idempotency-Key': key })
      .send(body);

  const count = async (table: string, tenantId: string): Promise<number> =>
    (await h.admin.query(`SELECT count(*)::int AS n FROM identity.${table} WHERE tenant_id = $1`, [tenantId])).rows[0].n;

  const unique = () => randomBytes(4).toString('hex');

  describe.each(ROUTES)('POST $path', (route) => {
    it('replays the first 201 for the same key and body, creating one', async () => {
      const t = await tenantFor(route);
      const body = route.body(unique());
      const before = await count(route.table, t.tenantId);
      const first = await create(t, route.path, body, `replay-${route.table}`);
      expect(first.status).toBe(201);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const again = await create(t, route.path, body, `replay-${route.table}`);
      expect(again.status).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      // An API key's secret is shown once: its replay is the first response with the key redacted.
      const expected = route.table === 'api_keys' ? { id: first.body.id, key: null, keyRedacted: true } : first.body;
      expect(again.body).toEqual(expected);
      expect(await count(route.table, t.tenantId)).toBe(before + 1);
    });

    it('answers 422 when the key comes back with another body, and creates nothing', async () => {
      const t = await tenantFor(route);
      await create(t, route.path, route.body(unique()), `other-${route.table}`);
      const before = await count(route.table, t.tenantId);
      const res = await create(t, route.path, route.body(unique()), `other-${route.table}`);
      expectProblem(res, 422);
      expect(res.body.reason).toBe('idempotency_key_reused');
      expect(await count(route.table, t.tenantId)).toBe(before);
    });

    it('refuses a malformed key with 400 and creates nothing', async () => {
      const t = await tenantFor(route);
      const before = await count(route.table, t.tenantId);
      for (const key of ['k'.repeat(300), 'has space', 'tab\tkey']) expectProblem(await create(t, route.path, route.body(unique()), key), 400);
      expect(await count(route.table, t.tenantId)).toBe(before);
    });

    it('scopes keys to the tenant', async () => {
      const [a, b] = [await tenantFor(route, 'a'), await tenantFor(route, 'b')];
      const mine = await create(a, route.path, route.body(unique()), `shared-${route.table}`);
      const before = await count(route.table, b.tenantId);
      const theirs = await create(b, route.path, route.body(unique()), `shared-${route.table}`);
      expect(theirs.status).toBe(201);
      expect(theirs.headers['idempotent-replayed']).toBeUndefined();
      expect(theirs.body.id).not.toBe(mine.body.id);
      expect(await count(route.table, b.tenantId)).toBe(before + 1);
    });
  });

  it('keeps no guessable trace of a password: the fingerprint is keyed, and another password is another request', async () => {
    const t = await tenantFor(ROUTES[0]);
    const body = ROUTES[0].body(unique());
    expect((await create(t, '/v1/users', body, 'user-password')).status).toBe(201);
    const { rows } = await h.admin.query(`SELECT request_hash FROM identity.idempotency_keys WHERE tenant_id = $1 AND key = 'user-password'`, [t.tenantId]);
    const canonical = JSON.stringify(Object.fromEntries(Object.entries(body).sort(([x], [y]) => (x < y ? -1 : 1))));
    const unkeyed = createHash('sha256').update('POST /v1/users').update('\n').update(canonical).digest('hex');
    expect(rows[0].request_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0].request_hash).not.toBe(unkeyed);
    expectProblem(await create(t, '/v1/users', { ...body, password: 'another long password' }, 'user-password'), 422);
  });

  it('never stores an API key secret for replays', async () => {
    const t = await tenantFor(ROUTES[3]);
    const first = await create(t, '/v1/api-keys', ROUTES[3].body(unique()), 'key-secret');
    expect(first.body.key).toMatch(/^tsk_/);
    const { rows } = await h.admin.query(`SELECT response_body::text AS body FROM identity.idempotency_keys WHERE tenant_id = $1`, [t.tenantId]);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.body).not.toContain('tsk_');
  });

  it('frees the key when the create fails (email taken), so a corrected retry can use it', async () => {
    const t = await tenantFor(ROUTES[0]);
    const taken = ROUTES[0].body(unique());
    await create(t, '/v1/users', taken, 'user-first');
    expectProblem(await create(t, '/v1/users', { ...taken, name: 'Again' }, 'user-failed'), 409);
    const corrected = await create(t, '/v1/users', ROUTES[0].body(unique()), 'user-failed');
    expect(corrected.status).toBe(201);
    expect(corrected.headers['idempotent-replayed']).toBeUndefined();
  });

  describe('POST /v1/tenants (signup: no tenant yet, the key names the one it creates)', () => {
    const signupBody = (n: string) => ({ name: `Shop ${n}`, slug: `shop-${n}`, owner: { email: `owner-${n}@example.com`, password: 'a long enough password', name: 'Owner' } });
    const signup = async (body: object, key?: string) =>
      h.http
        .post('/v1/tenants')
        .set({ ...(await h.anonymousHeaders()), ...(key ? { 'Idempotency-Key': key } : {}) })
        .send(body);
    const tenantRows = async (slug: string): Promise<number> =>
      (await h.admin.query('SELECT count(*)::int AS n FROM identity.tenants WHERE slug = $1', [slug])).rows[0].n;
    const createdEvents = async (tenantId: string): Promise<number> =>
      (await h.admin.query(`SELECT count(*)::int AS n FROM identity.outbox_events WHERE tenant_id = $1 AND type = 'identity.tenant.created'`, [tenantId])).rows[0].n;

    it('replays the first 201 for a resent signup instead of 409 slug_taken, creating one tenant', async () => {
      const n = unique();
      const first = await signup(signupBody(n), `signup-${n}`);
      expect(first.status).toBe(201);
      const again = await signup(signupBody(n), `signup-${n}`);
      expect([again.status, again.headers['idempotent-replayed']]).toEqual([201, 'true']);
      expect(again.body).toEqual(first.body);
      expect(await tenantRows(`shop-${n}`)).toBe(1);
      expect(await createdEvents(first.body.tenant.id)).toBe(1);
      // Without the key, a resend is what it always was: the slug is taken.
      expect((await signup(signupBody(n))).body.reason).toBe('slug_taken');
    });

    it('answers 422 for the key and slug with another body (another password too), and creates nothing', async () => {
      const n = unique();
      expect((await signup(signupBody(n), `signup-${n}`)).status).toBe(201);
      const renamed = await signup({ ...signupBody(n), name: 'Another name' }, `signup-${n}`);
      expectProblem(renamed, 422);
      expect(renamed.body.reason).toBe('idempotency_key_reused');
      const samePeopleOtherPassword = signupBody(n);
      samePeopleOtherPassword.owner.password = 'another long password';
      expectProblem(await signup(samePeopleOtherPassword, `signup-${n}`), 422);
      expect(await tenantRows(`shop-${n}`)).toBe(1);
    });

    it('frees the key of a signup that failed (slug taken), so the corrected one can use it', async () => {
      const taken = unique();
      expect((await signup(signupBody(taken))).status).toBe(201);
      const n = unique();
      expectProblem(await signup({ ...signupBody(n), slug: `shop-${taken}` }, `signup-${n}`), 409);
      const corrected = await signup(signupBody(n), `signup-${n}`);
      expect([corrected.status, corrected.headers['idempotent-replayed']]).toEqual([201, undefined]);
    });

    it('answers two signups sent at once with the same key with one tenant: one 201, the other 201 replayed or 409', async () => {
      const n = unique();
      const [a, b] = await Promise.all([signup(signupBody(n), `signup-${n}`), signup(signupBody(n), `signup-${n}`)]);
      const statuses = [a.status, b.status].sort();
      expect([[201, 201], [201, 409]]).toContainEqual(statuses);
      expect(await tenantRows(`shop-${n}`)).toBe(1);
    });

    it('scopes the key to the slug: another signup with the same key and its own slug is its own request', async () => {
      const [n, m] = [unique(), unique()];
      const mine = await signup(signupBody(n), `shared-${n}`);
      const theirs = await signup(signupBody(m), `shared-${n}`);
      expect([mine.status, theirs.status, theirs.headers['idempotent-replayed']]).toEqual([201, 201, undefined]);
      expect(theirs.body.tenant.id).not.toBe(mine.body.tenant.id);
    });

    it('answers a resend after the key expired with 409 slug_taken, as without a key, changing nothing', async () => {
      const n = unique();
      const first = await signup(signupBody(n), `late-${n}`);
      await h.admin.query(`UPDATE identity.idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`, [`late-${n}`]);
      const late = await signup(signupBody(n), `late-${n}`);
      expectProblem(late, 409);
      expect(late.body.reason).toBe('slug_taken');
      expect(await tenantRows(`shop-${n}`)).toBe(1);
      expect(await createdEvents(first.body.tenant.id)).toBe(1);
    });

    it("leads key and slug to a tenant id keyed with identity's secret, which no one without it can compute", async () => {
      const n = unique();
      const res = await signup(signupBody(n), `signup-${n}`);
      const message = `signup tenant id\n${JSON.stringify({ key: `signup-${n}`, slug: `shop-${n}` })}`;
      const secret = idempotencyFingerprintSecret(parseEncryptionKeys(h.config.CREDENTIALS_ENCRYPTION_KEYS));
      expect(res.body.tenant.id).toBe(uuidFromHash(createHmac('sha256', secret).update(message).digest('hex')));
      expect(res.body.tenant.id).not.toBe(uuidFromHash(createHash('sha256').update(message).digest('hex')));
      // The key is kept in the tenant it created, where a resend finds it.
      const { rows } = await h.admin.query('SELECT tenant_id FROM identity.idempotency_keys WHERE key = $1', [`signup-${n}`]);
      expect(rows).toEqual([{ tenant_id: res.body.tenant.id }]);
    });
  });

  it('purges expired keys in the background (the run its timer makes), keeping live ones', async () => {
    const route = ROUTES[0];
    const t = await tenantFor(route, 'purge');
    for (const key of ['purge-expired', 'purge-live']) expect((await create(t, route.path, route.body(unique()), key)).status).toBe(201);
    await h.admin.query(`UPDATE identity.idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1 AND key = 'purge-expired'`, [t.tenantId]);
    expect(await h.app.get(IdempotencyKeysPurger).purge()).toBeGreaterThanOrEqual(1);
    const { rows } = await h.admin.query(`SELECT key FROM identity.idempotency_keys WHERE tenant_id = $1`, [t.tenantId]);
    expect(rows).toEqual([{ key: 'purge-live' }]);
  });
});
