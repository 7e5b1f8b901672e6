import { randomUUID } from 'node:crypto';
import { requestRepublish } from '@tessera/service-kit';
import { PRODUCTS_PER_TRANSACTION } from '../src/republish/republish.service';
import { CatalogHarness, expectProblem, INTERNAL_SECRET, type Caller, type ProductBody } from './support/catalog-harness';

interface Row {
  type: string;
  subject: string;
  partitionKey: string;
  id: string;
  data: Record<string, unknown>;
  tx: string;
}

describe('republish (operator route POST /internal/republish)', () => {
  let h: CatalogHarness;
  beforeAll(async () => {
    h = await CatalogHarness.start();
  });
  afterAll(async () => {
    await h.close();
  });

  const republish = async (body?: unknown) => {
    const req = h.http.post('/internal/republish').set(await h.headers({ principalType: 'internal' }));
    return body === undefined ? req : req.send(body as object);
  };

  /**
   * The tenant's outbox rows, oldest first, with the transaction that wrote each, known by its start time
   * (created_at defaults to now()): not xmin, which the relay's marking of the rows as published replaces.
   */
  async function rows(tenantId: string): Promise<Row[]> {
    const { rows: found } = await h.admin.query<Row>(
      `SELECT type, envelope->>'subject' AS subject, partition_key AS "partitionKey", envelope->>'id' AS id, envelope->'data' AS data, created_at::text AS tx
       FROM catalog.outbox_events WHERE tenant_id = $1 ORDER BY seq`,
      [tenantId],
    );
    return found;
  }

  async function allEventsCount(): Promise<number> {
    return (await h.admin.query<{ n: number }>('SELECT count(*)::int AS n FROM catalog.outbox_events')).rows[0].n;
  }

  /** The data of the newest event about `subject` before the republish, without `changed`. */
  function lastState(before: Row[], subject: string): Record<string, unknown> {
    const last = before.filter((r) => r.subject === subject).at(-1) as Row;
    const { changed: _changed, ...data } = last.data;
    return data;
  }

  it("writes one tenant's current state: catalog.product.updated and catalog.variant.updated as a normal update shapes them, versions unchanged", async () => {
    const caller = h.tenant('manager');
    const bricks = await h.createProduct(caller, {
      title: 'Brick 2x4',
      variants: [
        { sku: 'B24-RED', priceAmount: 100, currency: 'EUR', options: { color: 'red' } },
        { sku: 'B24-RED-USED', priceAmount: 60, currency: 'EUR', options: { color: 'red', condition: 'used' } },
      ],
    });
    // A price change (variant version 2) and a draft product, and an archived one: each is republished as it is now.
    expect((await h.patch(caller, `/v1/products/${bricks.id}`, { title: 'Brick 2x4, red', variants: [{ id: bricks.variants[0].id, priceAmount: 90 }] })).status).toBe(200);
    const draft = await h.createProduct(caller, { title: 'Plate', status: 'draft', variants: [{ sku: 'PL-1', priceAmount: 20, currency: 'EUR' }] });
    const gone = await h.createProduct(caller, { title: 'Tile', variants: [{ sku: 'TL-1', priceAmount: 30, currency: 'EUR' }] });
    expect((await h.post(caller, `/v1/products/${gone.id}/archive`, {})).status).toBe(200);
    const before = await rows(caller.tenantId);

    const res = await republish({ tenantId: caller.tenantId });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tenants: 1, products: 3, variants: 4 });

    const added = (await rows(caller.tenantId)).slice(before.length);
    const products: ProductBody[] = [bricks, draft, gone].sort((a, b) => a.id.localeCompare(b.id));
    expect(added.map((r) => [r.type, r.subject, r.partitionKey])).toEqual(
      products.flatMap((p) => [
        ['catalog.product.updated', p.id, p.id],
        ...p.variants.map((v) => ['catalog.variant.updated', v.id, p.id]),
      ]),
    );
    // Exactly the state (and version) of each aggregate's newest event, with changed: [].
    for (const r of added) expect(r.data).toEqual({ ...lastState(before, r.subject), changed: [] });
    const data = (subject: string) => (added.find((r) => r.subject === subject) as Row).data;
    expect(data(bricks.id)).toMatchObject({ title: 'Brick 2x4, red', status: 'active', version: 2 });
    expect(data(bricks.variants[0].id)).toMatchObject({ sku: 'B24-RED', priceAmount: 90, version: 2, condition: 'new', status: 'active' });
    expect(data(bricks.variants[1].id)).toMatchObject({ sku: 'B24-RED-USED', condition: 'used', version: 1 });
    expect(data(draft.variants[0].id)).toMatchObject({ status: 'draft', version: 1 });
    expect(data(gone.id)).toMatchObject({ status: 'archived', version: 2 });
    expect(data(gone.variants[0].id)).toMatchObject({ status: 'archived', version: 2 });
    // Nothing in the catalog itself changed.
    expect((await h.get(caller, `/v1/products/${bricks.id}`)).body).toMatchObject({ version: 2, variants: [{ version: 2 }, { version: 1 }] });
    // New event ids (consumers' inboxes take them), one transaction for a small tenant.
    expect(added.filter((r) => before.some((b) => b.id === r.id))).toEqual([]);
    expect(new Set(added.map((r) => r.tx)).size).toBe(1);
  });

  it('without a tenantId visits every tenant with products once, a big catalog in keyset batches of bounded size', async () => {
    const small = h.tenant();
    await h.createProduct(small, { title: 'One', variants: [{ sku: 'ONE-1', priceAmount: 5, currency: 'USD' }, { sku: 'ONE-2', priceAmount: 6, currency: 'USD' }] });
    const big = h.tenant();
    const many = PRODUCTS_PER_TRANSACTION + 2;
    // Inserted directly (the route would make this test slow), one variant each.
    await h.admin.query(
      `WITH p AS (
         INSERT INTO catalog.products (id, tenant_id, title, status) SELECT gen_random_uuid(), $1, 'P' || n, 'active' FROM generate_series(1, $2::int) n RETURNING id, title
       )
       INSERT INTO catalog.variants (id, tenant_id, product_id, position, sku, price_amount, currency, fulfillment, status)
       SELECT gen_random_uuid(), $1, p.id, 0, 'SKU-' || p.title, 100, 'EUR', 'physical', 'active' FROM p`,
      [big.tenantId, many],
    );
    const { rows: totals } = await h.admin.query<{ tenants: number; products: number; variants: number }>(
      `SELECT (SELECT count(DISTINCT tenant_id)::int FROM catalog.products) AS tenants,
              (SELECT count(*)::int FROM catalog.products) AS products, (SELECT count(*)::int FROM catalog.variants) AS variants`,
    );
    const [smallBefore, bigBefore] = [await rows(small.tenantId), await rows(big.tenantId)];

    const res = await republish(); // no body at all: every tenant
    expect(res.status).toBe(200);
    expect(res.body).toEqual(totals[0]);

    expect((await rows(small.tenantId)).slice(smallBefore.length).map((r) => r.type)).toEqual([
      'catalog.product.updated',
      'catalog.variant.updated',
      'catalog.variant.updated',
    ]);
    const bigAdded = (await rows(big.tenantId)).slice(bigBefore.length);
    expect(bigAdded).toHaveLength(2 * many);
    expect(new Set(bigAdded.map((r) => r.subject)).size).toBe(2 * many);
    const perTx = [...bigAdded.reduce((m, r) => m.set(r.tx, (m.get(r.tx) ?? 0) + 1), new Map<string, number>()).values()];
    expect(perTx).toEqual([2 * PRODUCTS_PER_TRANSACTION, 4]);
    expect(bigAdded.find((r) => r.type === 'catalog.variant.updated')?.data).toMatchObject({ priceAmount: 100, currency: 'EUR', version: 1, changed: [] });
  });

  it('a tenant the catalog knows from identity but that has no products: 200 with nothing to write', async () => {
    const caller = h.tenant();
    await h.knowTenant(caller, 'single_brand');
    const res = await republish({ tenantId: caller.tenantId });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tenants: 1, products: 0, variants: 0 });
    expect(await rows(caller.tenantId)).toEqual([]);
  });

  describe('bad input gets a 4xx problem+json and writes nothing', () => {
    it.each([
      ['a malformed tenantId', 400, { tenantId: 'not-a-uuid' }],
      ['a tenantId of the wrong type', 400, { tenantId: 7 }],
      ['a null tenantId (never read as every tenant)', 400, { tenantId: null }],
      ['an unknown field', 400, { tenants: 'all' }],
      ['a body that is not an object', 400, [randomUUID()]],
      ['a tenant the catalog has neither products of nor heard of', 404, { tenantId: randomUUID() }],
    ])('%s → %d', async (_label, status, body) => {
      const before = await allEventsCount();
      const res = await republish(body);
      expectProblem(res, status);
      if (status === 400 && !Array.isArray(body)) expect((res.body.errors as { field: string }[]).map((e) => e.field)).toEqual([Object.keys(body)[0]]);
      expect(await allEventsCount()).toBe(before);
    });

    it("refuses a tenant's users and API keys, and an anonymous context naming a tenant or a principal (403), and no context (401)", async () => {
      const owner: Caller = h.tenant('owner');
      await h.createProduct(owner, { title: 'Mine', variants: [{ sku: 'MINE-1', priceAmount: 5, currency: 'USD' }] });
      const before = await allEventsCount();
      for (const ctx of [
        owner,
        { tenantId: owner.tenantId, principalId: randomUUID(), principalType: 'api_key' as const, scopes: ['catalog:write'] },
        { tenantId: owner.tenantId },
        { principalId: randomUUID() },
        // the anonymous context of every public request is not the internal credential
        {},
        { principalType: 'internal' as const, tenantId: owner.tenantId },
      ]) {
        expectProblem(await h.http.post('/internal/republish').set(await h.headers(ctx)).send({ tenantId: owner.tenantId }), 403);
      }
      expectProblem(await h.http.post('/internal/republish').send({ tenantId: owner.tenantId }), 401);
      expect(await allEventsCount()).toBe(before);
    });
  });

  it("as a consumer of identity's republish: a tenant or vendor it knows stays as it is, a missing one is created", async () => {
    const { caller, vendorId } = await h.mallWithVendor();
    const known = async () =>
      (
        await h.admin.query(
          `SELECT (SELECT type FROM catalog.known_tenants WHERE tenant_id = $1) AS type,
                  (SELECT json_agg(json_build_object('name', name, 'rate', commission_rate) ORDER BY name) FROM catalog.known_vendors WHERE tenant_id = $1) AS vendors`,
          [caller.tenantId],
        )
      ).rows[0];
    const before = await known();
    // identity:republish sends the same facts again under new event ids; the read model inserts only what it misses.
    await h.knowTenant(caller, 'mall');
    await h.knowVendor(caller, vendorId);
    expect(await known()).toEqual(before);
    const late = await h.knowVendor(caller);
    expect((await known()).vendors).toHaveLength(2);
    const res = await h.post(caller, '/v1/products', { title: 'Sold by the late vendor', vendorId: late.data.vendorId, variants: [{ sku: 'LATE-V', priceAmount: 5, currency: 'USD' }] });
    expect(res.status).toBe(201);
  });

  it('the catalog:republish tool calls the route over HTTP with the internal secret', async () => {
    const caller = h.tenant();
    await h.createProduct(caller, { title: 'Tool', variants: [{ sku: 'TOOL-1', priceAmount: 5, currency: 'USD' }] });
    const baseUrl = (await h.app.getUrl()).replace('[::1]', '127.0.0.1');
    expect(await requestRepublish({ baseUrl, internalTokenSecret: INTERNAL_SECRET, tenantId: caller.tenantId })).toEqual({
      status: 200,
      body: { tenants: 1, products: 1, variants: 1 },
    });
    expect((await requestRepublish({ baseUrl, internalTokenSecret: INTERNAL_SECRET, tenantId: 'nope' })).status).toBe(400);
    expect((await requestRepublish({ baseUrl, internalTokenSecret: 'another-secret-of-at-least-32-characters', tenantId: caller.tenantId })).status).toBe(401);
  });
});
