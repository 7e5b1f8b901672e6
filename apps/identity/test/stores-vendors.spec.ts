import { randomUUID } from 'node:crypto';
import { ROLES } from '@tessera/contracts';
import { CredentialsCipher, parseEncryptionKeys } from '../src/crypto/credentials-cipher';
import { credentialsAad, StoresService } from '../src/stores/stores.service';
import { encryptionKey, expectProblem, IdentityHarness, type SignedUp } from './support/identity-harness';

const OLD_KEY = encryptionKey('old');
const NEW_KEY = encryptionKey('new');

describe('stores and vendors', () => {
  let h: IdentityHarness;
  let t: SignedUp;
  beforeAll(async () => {
    // Rotation in place: `new` encrypts, `old` still decrypts.
    h = await IdentityHarness.start({ env: { CREDENTIALS_ENCRYPTION_KEYS: `${NEW_KEY},${OLD_KEY}` } });
    t = await h.signup();
  });
  afterAll(async () => {
    await h.close();
  });

  const createStore = async (owner: SignedUp, body: object) =>
    h.http
      .post('/v1/stores')
      .set(await h.userHeaders(h.ownerOf(owner)))
      .send(body);

  it('stores credentials encrypted and only says which fields are set', async () => {
    const credentials = {
      consumerKey: 'ck-PLAINTEXT-1',
      consumerSecret: 'cs-PLAINTEXT-2',
      tokenValue: 'tv-PLAINTEXT-3',
      tokenSecret: 'ts-PLAINTEXT-4',
    };
    const res = await createStore(t, { name: 'BL shop', channel: 'bricklink', credentials });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'BL shop', channel: 'bricklink', vendorId: null });
    expect(res.body.credentialsSet).toEqual(['consumerKey', 'consumerSecret', 'tokenSecret', 'tokenValue']);
    expect(JSON.stringify(res.body)).not.toContain('PLAINTEXT');

    const { rows } = await h.admin.query('SELECT * FROM identity.stores WHERE id = $1', [res.body.id]);
    const raw = JSON.stringify(rows[0]);
    expect(raw).not.toContain('PLAINTEXT');
    expect(rows[0].credentials_encrypted).toMatch(/^v1\.new\./);
    const cipher = new CredentialsCipher(parseEncryptionKeys(NEW_KEY));
    expect(JSON.parse(cipher.decrypt(rows[0].credentials_encrypted, credentialsAad(t.tenantId, res.body.id)))).toEqual(
      credentials,
    );

    for (const path of [`/v1/stores/${res.body.id}`, '/v1/stores']) {
      const read = await h.http.get(path).set(await h.userHeaders(h.ownerOf(t)));
      expect(read.status).toBe(200);
      expect(JSON.stringify(read.body)).not.toContain('PLAINTEXT');
      expect(JSON.stringify(read.body)).toContain('consumerKey');
    }
    expect(await h.outboxTypes(t.tenantId)).toContain('identity.store.created');
  });

  it('a row encrypted with the previous key still decrypts after rotation', async () => {
    const res = await createStore(t, { name: 'BO shop', channel: 'brickowl', credentials: { apiKey: 'first-secret' } });
    expect(res.status).toBe(201);
    const legacy = new CredentialsCipher(parseEncryptionKeys(OLD_KEY)).encrypt(
      JSON.stringify({ apiKey: 'legacy-secret' }),
      credentialsAad(t.tenantId, res.body.id),
    );
    await h.admin.query('UPDATE identity.stores SET credentials_encrypted = $1 WHERE id = $2', [legacy, res.body.id]);
    await expect(h.app.get(StoresService).credentialsOf(t.tenantId, res.body.id)).resolves.toEqual({
      apiKey: 'legacy-secret',
    });
  });

  it('validates credentials per channel, naming the bad field', async () => {
    const missing = await createStore(t, { name: 'S', channel: 'shopee', credentials: { partnerId: '1', shopId: 2 } });
    expectProblem(missing, 400);
    expect((missing.body.errors as { field: string }[]).map((e) => e.field).sort()).toEqual([
      'credentials.partnerKey',
      'credentials.shopId',
    ]);
    const unknown = await createStore(t, {
      name: 'S',
      channel: 'brickowl',
      credentials: { apiKey: 'k', password: 'p' },
    });
    expectProblem(unknown, 400);
    expect(unknown.body.errors[0].field).toBe('credentials.password');
    // A key is the client's: its '/' and '~' are escaped in the pointer, and a '.' is no path step.
    const odd = await createStore(t, { name: 'S', channel: 'brickowl', credentials: { apiKey: 'k', 'a/b~c': 'x', 'c.d': 'y' } });
    expectProblem(odd, 400);
    expect((odd.body.errors as { pointer: string }[]).map((e) => e.pointer).sort()).toEqual(['#/credentials/a~1b~0c', '#/credentials/c.d']);
    const none = await createStore(t, { name: 'S', channel: 'tiktok_shop' });
    expectProblem(none, 400);
    expect(none.body.errors[0].field).toBe('credentials');
    expectProblem(await createStore(t, { name: 'S', channel: 'ebay' }), 400);
    expectProblem(await createStore(t, { name: 'S', channel: 'custom_website', credentials: 'apiKey=1' }), 400);
    const storefront = await createStore(t, { name: 'Own shop', channel: 'storefront' });
    expect(storefront.status).toBe(201);
    expect(storefront.body.credentialsSet).toEqual([]);
  });

  it("another tenant's store is 404 and lists are tenant-scoped", async () => {
    const other = await h.signup();
    const theirs = await createStore(other, { name: 'Theirs', channel: 'storefront' });
    expect(theirs.status).toBe(201);
    expectProblem(await h.http.get(`/v1/stores/${theirs.body.id}`).set(await h.userHeaders(h.ownerOf(t))), 404);
    expectProblem(await h.http.get(`/v1/stores/${randomUUID()}`).set(await h.userHeaders(h.ownerOf(t))), 404);
    expectProblem(await h.http.get('/v1/stores/nope').set(await h.userHeaders(h.ownerOf(t))), 400);
    const list = await h.http.get('/v1/stores').set(await h.userHeaders(h.ownerOf(t)));
    expect(list.body.items.map((s: { id: string }) => s.id)).not.toContain(theirs.body.id);
  });

  it('lists stores, vendors and API keys a page at a time, with a cursor, every row once', async () => {
    const mall = await h.signup({ type: 'mall' });
    const headers = await h.userHeaders(h.ownerOf(mall));
    const made: Record<string, string[]> = { stores: [], vendors: [], 'api-keys': [] };
    for (let i = 0; i < 5; i++) {
      made.stores.push((await h.http.post('/v1/stores').set(headers).send({ name: `S${i}`, channel: 'storefront' })).body.id);
      made.vendors.push((await h.http.post('/v1/vendors').set(headers).send({ name: `V${i}`, commissionRate: 100 })).body.id);
      made['api-keys'].push((await h.http.post('/v1/api-keys').set(headers).send({ name: `K${i}`, scopes: [] })).body.id);
    }
    for (const [route, ids] of Object.entries(made)) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await h.http
          .get(`/v1/${route}`)
          .query({ limit: 2, ...(cursor ? { cursor } : {}) })
          .set(headers);
        expect([route, res.status]).toEqual([route, 200]);
        seen.push(...res.body.items.map((x) => x.id));
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor);
      expect([route, pages, seen]).toEqual([route, 3, ids]);
      for (const query of ['limit=0', 'limit=101', 'cursor=%21%21', `cursor=${Buffer.from('{"createdAt":"x","id":"y"}').toString('base64url')}`]) {
        expectProblem(await h.http.get(`/v1/${route}?${query}`).set(headers), 400);
      }
    }
  });

  it('only owners and admins create stores', async () => {
    const picker = await h.addUser(t, 'picker');
    expectProblem(
      await h.http
        .post('/v1/stores')
        .set(await h.userHeaders(picker))
        .send({ name: 'S', channel: 'storefront' }),
      403,
    );
    expect((await h.http.get('/v1/stores').set(await h.userHeaders(picker))).status).toBe(200);
  });

  describe('vendors', () => {
    it('exist only for mall tenants', async () => {
      const res = await h.http
        .post('/v1/vendors')
        .set(await h.userHeaders(h.ownerOf(t)))
        .send({ name: 'V', commissionRate: 1000 });
      expectProblem(res, 409);
      expectProblem(await h.http.get('/v1/vendors').set(await h.userHeaders(h.ownerOf(t))), 409);
    });

    it('a mall creates vendors with a commission in basis points, and a store may reference one', async () => {
      const mall = await h.signup({ type: 'mall' });
      const headers = await h.userHeaders(h.ownerOf(mall));
      const vendor = await h.http.post('/v1/vendors').set(headers).send({ name: 'Brick Vendor', commissionRate: 1250 });
      expect(vendor.status).toBe(201);
      expect(vendor.body).toMatchObject({ name: 'Brick Vendor', commissionRate: 1250 });
      expectProblem(await h.http.post('/v1/vendors').set(headers).send({ name: 'V', commissionRate: 10001 }), 400);
      expectProblem(await h.http.post('/v1/vendors').set(headers).send({ name: 'V', commissionRate: 1.5 }), 400);
      const list = await h.http.get('/v1/vendors').set(headers);
      expect(list.body.items).toEqual([expect.objectContaining({ id: vendor.body.id })]);

      const store = await h.http
        .post('/v1/stores')
        .set(headers)
        .send({ name: 'Vendor shop', channel: 'storefront', vendorId: vendor.body.id });
      expect(store.status).toBe(201);
      expect(store.body.vendorId).toBe(vendor.body.id);
      // Named in upper case, the vendor is still answered and announced by its stored id.
      const upper = await h.http
        .post('/v1/stores')
        .set(headers)
        .send({ name: 'Vendor shop 2', channel: 'storefront', vendorId: vendor.body.id.toUpperCase() });
      expect(upper.status).toBe(201);
      expect(upper.body.vendorId).toBe(vendor.body.id);
      const { rows } = await h.admin.query<{ data: { vendorId: string } }>(
        `SELECT envelope->'data' AS data FROM identity.outbox_events WHERE type = 'identity.store.created' AND envelope->>'subject' = $1`,
        [upper.body.id],
      );
      expect(rows.map((r) => r.data.vendorId)).toEqual([vendor.body.id]);

      // Another tenant cannot attach our vendor to its store.
      const otherMall = await h.signup({ type: 'mall' });
      const foreign = await createStore(otherMall, { name: 'Sneaky', channel: 'storefront', vendorId: vendor.body.id });
      expectProblem(foreign, 422);
      expect(foreign.body).toMatchObject({ reason: 'unknown_vendor', vendorId: vendor.body.id });
    });

    it('only owners and admins create vendors: the other roles get 403 and no vendor is created', async () => {
      const mall = await h.signup({ type: 'mall' });
      for (const role of ROLES.filter((r) => r !== 'owner' && r !== 'admin')) {
        const user = await h.addUser(mall, role);
        const res = await h.http
          .post('/v1/vendors')
          .set(await h.userHeaders(user))
          .send({ name: `By ${role}`, commissionRate: 500 });
        expect([role, res.status]).toEqual([role, 403]);
        expectProblem(res, 403);
      }
      const { rows } = await h.admin.query('SELECT count(*)::int AS n FROM identity.vendors WHERE tenant_id = $1', [mall.tenantId]);
      expect(rows[0].n).toBe(0);
      expect(await h.outboxTypes(mall.tenantId)).not.toContain('identity.vendor.created');
      // The same body from an admin is created: the refusals were the roles', not the body's.
      const admin = await h.addUser(mall, 'admin');
      expect((await h.http.post('/v1/vendors').set(await h.userHeaders(admin)).send({ name: 'By admin', commissionRate: 500 })).status).toBe(201);
    });

    it('commission rates are read by managers and up and by vendors:read keys; other roles and keys get 403', async () => {
      const mall = await h.signup({ type: 'mall' });
      const owner = { ...mall, role: 'owner' as const };
      expect((await h.http.post('/v1/vendors').set(await h.userHeaders(owner)).send({ name: 'Seller', commissionRate: 750 })).status).toBe(201);
      for (const role of ROLES) {
        const user = role === 'owner' ? owner : await h.addUser(mall, role);
        const res = await h.http.get('/v1/vendors').set(await h.userHeaders(user));
        const allowed = ['owner', 'admin', 'manager'].includes(role);
        expect([role, res.status]).toEqual([role, allowed ? 200 : 403]);
        if (allowed) expect(res.body.items).toEqual([expect.objectContaining({ name: 'Seller', commissionRate: 750 })]);
        else expectProblem(res, 403);
      }
      const asKey = async (scopes: string[]) =>
        h.http
          .get('/v1/vendors')
          .set('x-tessera-context', await h.context({ tenantId: mall.tenantId, principalId: randomUUID(), principalType: 'api_key', scopes }));
      expectProblem(await asKey(['orders:read']), 403);
      expect((await asKey(['vendors:read'])).body.items).toHaveLength(1);
    });

    it('creating a vendor writes identity.vendor.created in the same transaction; a refused one writes nothing', async () => {
      const mall = await h.signup({ type: 'mall' });
      const headers = await h.userHeaders(h.ownerOf(mall));
      const vendor = await h.http.post('/v1/vendors').set(headers).send({ name: 'Event Vendor', commissionRate: 900 });
      expect(vendor.status).toBe(201);
      expectProblem(await h.http.post('/v1/vendors').set(headers).send({ name: 'V', commissionRate: 10001 }), 400);
      const { rows } = await h.admin.query<{ subject: string; data: Record<string, unknown> }>(
        `SELECT envelope->>'subject' AS subject, envelope->'data' AS data FROM identity.outbox_events
          WHERE tenant_id = $1 AND type = 'identity.vendor.created'`,
        [mall.tenantId],
      );
      expect(rows).toEqual([
        {
          subject: vendor.body.id,
          data: { tenantId: mall.tenantId, vendorId: vendor.body.id, name: 'Event Vendor', commissionRate: 900 },
        },
      ]);

      // A single brand's refused vendor (409 not_a_mall) announces nothing.
      expectProblem(await h.http.post('/v1/vendors').set(await h.userHeaders(h.ownerOf(t))).send({ name: 'V', commissionRate: 1 }), 409);
      expect(await h.outboxTypes(t.tenantId)).not.toContain('identity.vendor.created');
    });
  });
});
