import { randomUUID } from 'node:crypto';
import { CatalogHarness, expectProblem, type Caller } from './support/catalog-harness';

const brick = (sku: string, extra: Record<string, unknown> = {}) => ({
  title: 'Red brick 2x4',
  description: 'A classic red building brick.',
  variants: [{ sku, priceAmount: 125, currency: 'EUR', options: { color: 'red', condition: 'new' }, weightGrams: 3 }],
  ...extra,
});

describe('products: create, read, roles, SKU conflicts, tenancy', () => {
  let h: CatalogHarness;
  let owner: Caller;
  beforeAll(async () => {
    h = await CatalogHarness.start();
    owner = h.tenant('owner');
  });
  afterAll(async () => {
    await h.close();
  });

  it('creates a product with its variants and writes the created events in the same transaction', async () => {
    const res = await h.post(owner, '/v1/products', {
      title: 'Brick set',
      description: 'Bricks in two colours',
      attributes: { brand: 'Acme', pieces: 120, boxed: true },
      images: [{ url: 'https://cdn.example.com/set.jpg', alt: 'the box' }],
      variants: [
        { sku: 'SET-100-RED', priceAmount: 1999, currency: 'EUR', compareAtAmount: 2499, options: { color: 'red' }, weightGrams: 450 },
        { sku: 'SET-100-PDF', priceAmount: 499, currency: 'EUR', fulfillment: 'digital' },
      ],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      title: 'Brick set',
      status: 'active',
      vendorId: null,
      version: 1,
      attributes: { brand: 'Acme', pieces: 120, boxed: true },
      images: [{ url: 'https://cdn.example.com/set.jpg', alt: 'the box' }],
    });
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.variants).toHaveLength(2);
    expect(res.body.variants[0]).toMatchObject({
      sku: 'SET-100-RED',
      priceAmount: 1999,
      currency: 'EUR',
      compareAtAmount: 2499,
      fulfillment: 'physical',
      weightGrams: 450,
      options: { color: 'red' },
      status: 'active',
      effectiveStatus: 'active',
      productId: res.body.id,
    });
    expect(res.body.variants[1]).toMatchObject({ sku: 'SET-100-PDF', fulfillment: 'digital', weightGrams: null, compareAtAmount: null });
    const variantIds = res.body.variants.map((v: { id: string }) => v.id);
    expect(new Set(variantIds).size).toBe(2);

    const events = await h.outbox(owner.tenantId);
    expect(events.map((e) => e.type)).toEqual(['catalog.product.created', 'catalog.variant.created', 'catalog.variant.created']);
    expect(events[0]).toMatchObject({ subject: res.body.id, partition_key: res.body.id });
    expect(events[0].envelope.data).toMatchObject({ tenantId: owner.tenantId, productId: res.body.id, title: 'Brick set', status: 'active', version: 1 });
    expect(events[1]).toMatchObject({ subject: variantIds[0], partition_key: res.body.id });
    expect(events[1].envelope.data).toEqual({
      tenantId: owner.tenantId,
      variantId: variantIds[0],
      productId: res.body.id,
      sku: 'SET-100-RED',
      priceAmount: 1999,
      currency: 'EUR',
      compareAtAmount: 2499,
      status: 'active',
      fulfillment: 'physical',
      condition: 'new',
      version: 1,
      occurredAt: expect.any(String),
    });
    expect(events[2].envelope.data).toMatchObject({ sku: 'SET-100-PDF', fulfillment: 'digital', priceAmount: 499, condition: 'new' });

    const read = await h.get(owner, `/v1/products/${res.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
  });

  it('announces the stock condition a variant sells from its condition option', async () => {
    const res = await h.post(owner, '/v1/products', {
      title: 'Brick 2x4',
      variants: [
        { sku: 'B24-USED', priceAmount: 60, currency: 'EUR', options: { color: 'red', condition: 'used' } },
        { sku: 'B24-NEW', priceAmount: 90, currency: 'EUR', options: { condition: 'new' } },
      ],
    });
    expect(res.status).toBe(201);
    const events = (await h.outbox(owner.tenantId)).filter((e) => e.type === 'catalog.variant.created' && e.partition_key === res.body.id);
    expect(events.map((e) => [e.envelope.data.sku, e.envelope.data.condition])).toEqual([['B24-USED', 'used'], ['B24-NEW', 'new']]);
  });

  it('a draft product announces its variants as not sellable (effective status draft)', async () => {
    const caller = h.tenant('admin');
    const product = await h.createProduct(caller, brick('DRAFT-1', { status: 'draft' }));
    expect(product.status).toBe('draft');
    expect(product.variants[0]).toMatchObject({ status: 'active', effectiveStatus: 'draft' });
    const events = await h.outbox(caller.tenantId);
    expect(events[1].envelope.data).toMatchObject({ sku: 'DRAFT-1', status: 'draft' });
  });

  it('lets owner, admin, manager and staff write and every tenant role read', async () => {
    for (const role of ['admin', 'manager', 'staff'] as const) {
      const res = await h.post(h.as(owner, role), '/v1/products', brick(`ROLE-${role}`));
      expect(res.status).toBe(201);
    }
    const product = await h.createProduct(owner, brick('ROLE-READ'));
    for (const role of ['viewer', 'picker', 'sales', 'client', 'project_manager'] as const) {
      const reader = h.as(owner, role);
      expect((await h.get(reader, `/v1/products/${product.id}`)).status).toBe(200);
      expect((await h.get(reader, '/v1/products')).status).toBe(200);
      expectProblem(await h.post(reader, '/v1/products', brick(`DENIED-${role}`)), 403);
      expectProblem(await h.patch(reader, `/v1/products/${product.id}`, { title: 'nope' }), 403);
      expectProblem(await h.post(reader, `/v1/products/${product.id}/archive`, {}), 403);
    }
    expect((await h.get(owner, `/v1/products/${product.id}`)).body.title).toBe('Red brick 2x4');
  });

  it('archive takes no body: any field in one is a 400 naming it, and the product stays as it was', async () => {
    const product = await h.createProduct(owner, brick('ARCHIVE-BODY'));
    const res = await h.post(owner, `/v1/products/${product.id}/archive`, { status: 'draft', reason: 'x' });
    expectProblem(res, 400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['status', 'reason']);
    expect((await h.get(owner, `/v1/products/${product.id}`)).body.status).toBe(product.status);
    expect((await h.post(owner, `/v1/products/${product.id}/archive`, {})).body.status).toBe('archived');
  });

  it('lets an API key with catalog:write create products and refuses one without it', async () => {
    const apiKey = { tenantId: owner.tenantId, principalId: randomUUID(), principalType: 'api_key' as const, roles: [], scopes: ['catalog:write'] };
    const ok = await h.http.post('/v1/products').set(await h.headers(apiKey)).send(brick('APIKEY-1'));
    expect(ok.status).toBe(201);
    const readOnly = { ...apiKey, scopes: ['catalog:read'] };
    expectProblem(await h.http.post('/v1/products').set(await h.headers(readOnly)).send(brick('APIKEY-2')), 403);
    expect((await h.http.get(`/v1/products/${ok.body.id}`).set(await h.headers(readOnly))).status).toBe(200);
  });

  it('refuses calls without a gateway context (401) and anonymous callers', async () => {
    expectProblem(await h.http.get('/v1/products'), 401);
    expectProblem(await h.http.post('/v1/products').send(brick('ANON-1')), 401);
    expectProblem(await h.http.get('/v1/products').set(await h.headers({})), 401);
  });

  it('answers 409 naming the SKU when it is taken, and changes nothing', async () => {
    const caller = h.tenant('owner');
    await h.createProduct(caller, brick('DUP-1'));
    const before = await h.counts(caller.tenantId);

    const taken = await h.post(caller, '/v1/products', {
      title: 'Another',
      variants: [
        { sku: 'FRESH-1', priceAmount: 100, currency: 'EUR' },
        { sku: 'DUP-1', priceAmount: 100, currency: 'EUR' },
      ],
    });
    expectProblem(taken, 409);
    expect(taken.body).toMatchObject({ sku: 'DUP-1', reason: 'sku_taken' });
    expect(taken.body.detail).toContain('DUP-1');

    const twice = await h.post(caller, '/v1/products', {
      title: 'Twice',
      variants: [
        { sku: 'TWICE-1', priceAmount: 100, currency: 'EUR' },
        { sku: 'TWICE-1', priceAmount: 200, currency: 'EUR' },
      ],
    });
    // A mistake in the request itself: a field error naming the repeat, not "already used by another variant".
    expectProblem(twice, 400);
    expect(twice.body.errors).toEqual([{ field: 'variants.1.sku', pointer: '#/variants/1/sku', detail: expect.stringContaining('variants.0') }]);
    expect(await h.counts(caller.tenantId)).toEqual(before);

    // SKUs are unique per tenant, not globally.
    expect((await h.post(h.tenant('owner'), '/v1/products', brick('DUP-1'))).status).toBe(201);
  });

  it('turns a concurrent duplicate SKU (lost race on the unique index) into the same 409', async () => {
    const caller = h.tenant('owner');
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => h.post(caller, '/v1/products', brick('RACE-1', { title: `Racer ${i}` }))),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    for (const r of results.filter((x) => x.status === 409)) {
      expectProblem(r, 409);
      expect(r.body.sku).toBe('RACE-1');
    }
    expect(await h.counts(caller.tenantId)).toEqual({ products: 1, variants: 1, events: 2 });
  });

  it('two products racing for the same SKUs listed in opposite orders: one 201 and one 409, never a deadlock', async () => {
    const caller = h.tenant('owner');
    for (let round = 0; round < 10; round++) {
      const skus = Array.from({ length: 100 }, (_, i) => `XO-${round}-${String(i).padStart(2, '0')}`);
      const body = (list: string[]) => ({ title: `Crossed ${round}`, variants: list.map((sku) => ({ sku, priceAmount: 100, currency: 'EUR' })) });
      const results = await Promise.all([h.post(caller, '/v1/products', body(skus)), h.post(caller, '/v1/products', body([...skus].reverse()))]);
      expect([round, results.map((r) => r.status).sort()]).toEqual([round, [201, 409]]);
    }
    const created = await h.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM catalog.variants WHERE tenant_id = $1 AND sku LIKE 'XO-%'`, [caller.tenantId]);
    expect(created.rows[0].n).toBe(10 * 100);
  });

  it("answers 404 for another tenant's product on every route, and changes nothing", async () => {
    const other = h.tenant('owner');
    const theirs = await h.createProduct(other, brick('THEIRS-1'));
    const before = await h.counts(other.tenantId);
    expectProblem(await h.get(owner, `/v1/products/${theirs.id}`), 404);
    expectProblem(await h.patch(owner, `/v1/products/${theirs.id}`, { title: 'Stolen' }), 404);
    expectProblem(await h.post(owner, `/v1/products/${theirs.id}/archive`, {}), 404);
    expectProblem(await h.get(owner, `/v1/products/${randomUUID()}`), 404);
    const list = await h.get(owner, '/v1/products?limit=100');
    expect(list.body.items.map((p: { id: string }) => p.id)).not.toContain(theirs.id);
    expect(await h.counts(other.tenantId)).toEqual(before);
    expect((await h.get(other, `/v1/products/${theirs.id}`)).body).toMatchObject({ title: 'Red brick 2x4', status: 'active' });
  });

  it('the outbox relay publishes the events to tessera.catalog.events, keyed by the product id', async () => {
    const caller = h.tenant('owner');
    const product = await h.createProduct(caller, brick('RELAY-1'));
    const deadline = Date.now() + 10_000;
    let published: { type: string; key: string }[] = [];
    while (Date.now() < deadline) {
      const { rows } = await h.admin.query<{ type: string; key: string }>(
        `SELECT envelope->>'type' AS type, key FROM messaging.events
         WHERE topic = 'tessera.catalog.events' AND envelope->>'tenantid' = $1 ORDER BY partition, "offset"`,
        [caller.tenantId],
      );
      published = rows;
      if (published.length === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(published).toEqual([
      { type: 'catalog.product.created', key: product.id },
      { type: 'catalog.variant.created', key: product.id },
    ]);
  });

  it('stores the vendor of a mall product (a vendor of this mall, known from identity events)', async () => {
    const { caller, vendorId } = await h.mallWithVendor();
    const product = await h.createProduct(caller, brick('MALL-1', { vendorId }));
    expect(product.vendorId).toBe(vendorId);
    expect((await h.get(caller, `/v1/products/${product.id}`)).body.vendorId).toBe(vendorId);
  });
});
