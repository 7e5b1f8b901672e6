import { randomUUID } from 'node:crypto';
import { CatalogHarness, expectProblem, type Caller } from './support/catalog-harness';

const brick = (sku: string, extra: Record<string, unknown> = {}) => ({
  title: 'Red brick 2x4',
  variants: [{ sku, priceAmount: 125, currency: 'EUR' }],
  ...extra,
});

/**
 * A product's vendorId is checked against the catalog's read model of identity (tenant types and mall vendors),
 * which the tests build by delivering identity's events to the real handler, through its inbox.
 */
describe('products: vendorId against the read model of identity', () => {
  let h: CatalogHarness;
  beforeAll(async () => {
    h = await CatalogHarness.start();
  });
  afterAll(async () => {
    await h.close();
  });

  async function expectRefused(res: { status: number; headers: Record<string, string>; body: Record<string, unknown> }, reason: string, vendorId: string) {
    expectProblem(res, 422);
    expect(res.body).toMatchObject({ reason, vendorId });
    expect(typeof res.body.detail).toBe('string');
  }

  it('a mall creates a product of one of its vendors; null or no vendorId works as before', async () => {
    const { caller, vendorId } = await h.mallWithVendor();
    const res = await h.post(caller, '/v1/products', brick('V-OWN-1', { vendorId }));
    expect(res.status).toBe(201);
    expect(res.body.vendorId).toBe(vendorId);
    expect((await h.post(caller, '/v1/products', brick('V-OWN-2', { vendorId: null }))).body.vendorId).toBeNull();
    expect((await h.post(caller, '/v1/products', brick('V-OWN-3'))).body.vendorId).toBeNull();
  });

  it('refuses a vendor the mall does not have (422 unknown_vendor); nothing is written', async () => {
    const { caller } = await h.mallWithVendor();
    const stranger = randomUUID();
    await expectRefused(await h.post(caller, '/v1/products', brick('V-UNKNOWN-1', { vendorId: stranger })), 'unknown_vendor', stranger);
    expect(await h.counts(caller.tenantId)).toEqual({ products: 0, variants: 0, events: 0 });
  });

  it("refuses another tenant's vendor (422 unknown_vendor)", async () => {
    const mine = await h.mallWithVendor();
    const theirs = await h.mallWithVendor();
    await expectRefused(await h.post(mine.caller, '/v1/products', brick('V-FOREIGN-1', { vendorId: theirs.vendorId })), 'unknown_vendor', theirs.vendorId);
    expect(await h.counts(mine.caller.tenantId)).toEqual({ products: 0, variants: 0, events: 0 });
  });

  it('refuses any vendorId for a single_brand tenant, or a tenant the catalog has not heard of (422 not_a_mall)', async () => {
    const brand = h.tenant('owner');
    await h.knowTenant(brand, 'single_brand');
    // Even a vendor row under this tenant (a producer bug) does not make a single brand a mall.
    const { data } = await h.knowVendor(brand);
    await expectRefused(await h.post(brand, '/v1/products', brick('V-BRAND-1', { vendorId: data.vendorId })), 'not_a_mall', data.vendorId);
    expect(await h.counts(brand.tenantId)).toEqual({ products: 0, variants: 0, events: 0 });

    const unheard = h.tenant('owner');
    const vendorId = randomUUID();
    await expectRefused(await h.post(unheard, '/v1/products', brick('V-UNHEARD-1', { vendorId })), 'not_a_mall', vendorId);
    // A single brand still creates its products without a vendor.
    expect((await h.post(brand, '/v1/products', brick('V-BRAND-2'))).status).toBe(201);
  });

  it('a refused vendorId frees the Idempotency-Key: the corrected retry is created', async () => {
    const { caller, vendorId } = await h.mallWithVendor();
    const key = randomUUID();
    const wrong = randomUUID();
    await expectRefused(await h.post(caller, '/v1/products', brick('V-IDEM-1', { vendorId: wrong }), { 'Idempotency-Key': key }), 'unknown_vendor', wrong);
    const res = await h.post(caller, '/v1/products', brick('V-IDEM-1', { vendorId }), { 'Idempotency-Key': key });
    expect(res.status).toBe(201);
    expect(res.body.vendorId).toBe(vendorId);
  });

  describe('PATCH', () => {
    let caller: Caller;
    let vendorId: string;
    let productId: string;
    beforeAll(async () => {
      ({ caller, vendorId } = await h.mallWithVendor());
      productId = (await h.createProduct(caller, brick('V-PATCH-1'))).id;
    });

    async function unchanged(): Promise<void> {
      const res = await h.get(caller, `/v1/products/${productId}`);
      expect(res.body).toMatchObject({ vendorId: null, title: 'Red brick 2x4', version: 1 });
      expect((await h.outbox(caller.tenantId)).filter((e) => e.subject === productId).map((e) => e.type)).toEqual(['catalog.product.created']);
    }

    it('refuses an unknown or foreign vendor and changes nothing (not even the other fields)', async () => {
      const stranger = randomUUID();
      await expectRefused(await h.patch(caller, `/v1/products/${productId}`, { vendorId: stranger, title: 'Renamed' }), 'unknown_vendor', stranger);
      const other = await h.mallWithVendor();
      await expectRefused(await h.patch(caller, `/v1/products/${productId}`, { vendorId: other.vendorId }), 'unknown_vendor', other.vendorId);
      await unchanged();
    });

    it("refuses a single brand's vendorId", async () => {
      const brand = h.tenant('owner');
      await h.knowTenant(brand, 'single_brand');
      const id = (await h.createProduct(brand, brick('V-PATCH-BRAND'))).id;
      const v = randomUUID();
      await expectRefused(await h.patch(brand, `/v1/products/${id}`, { vendorId: v }), 'not_a_mall', v);
      expect((await h.get(brand, `/v1/products/${id}`)).body).toMatchObject({ vendorId: null, version: 1 });
    });

    it('sets an own vendor, then clears it with null', async () => {
      await unchanged();
      const set = await h.patch(caller, `/v1/products/${productId}`, { vendorId });
      expect(set.status).toBe(200);
      expect(set.body).toMatchObject({ vendorId, version: 2 });
      const cleared = await h.patch(caller, `/v1/products/${productId}`, { vendorId: null });
      expect(cleared.status).toBe(200);
      expect(cleared.body).toMatchObject({ vendorId: null, version: 3 });
    });
  });

  it('redelivered identity events change nothing: one inbox row per event, one read-model row per fact', async () => {
    const caller = h.tenant('owner');
    const tenantEvent = await h.knowTenant(caller, 'mall');
    const vendorEvent = await h.knowVendor(caller);
    await h.deliver(tenantEvent);
    await h.deliver(vendorEvent);
    await h.deliver(vendorEvent);
    const { rows } = await h.admin.query<{ tenants: number; vendors: number; processed: number }>(
      `SELECT (SELECT count(*)::int FROM catalog.known_tenants WHERE tenant_id = $1) AS tenants,
              (SELECT count(*)::int FROM catalog.known_vendors WHERE tenant_id = $1) AS vendors,
              (SELECT count(*)::int FROM catalog.processed_events WHERE event_id = ANY($2::uuid[])) AS processed`,
      [caller.tenantId, [tenantEvent.id, vendorEvent.id]],
    );
    expect(rows[0]).toEqual({ tenants: 1, vendors: 1, processed: 2 });
    expect((await h.post(caller, '/v1/products', brick('V-REDELIVERED', { vendorId: vendorEvent.data.vendorId }))).status).toBe(201);
  });
});
