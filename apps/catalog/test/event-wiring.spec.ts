import { randomUUID } from 'node:crypto';
import { IdentityEventTypes, TOPICS, type TenantCreatedV1, type VendorCreatedV1 } from '@tessera/contracts';
import { createEnvelope, PostgresTransport } from '@tessera/messaging';
import { CatalogHarness } from './support/catalog-harness';

/** The running catalog on the postgres transport: identity's events in, a vendor's product accepted once they arrive. */
describe('catalog on the postgres event transport', () => {
  let h: CatalogHarness;
  let producer: PostgresTransport;

  beforeAll(async () => {
    h = await CatalogHarness.start({ consumeEvents: true, transport: (url) => new PostgresTransport({ url, pollIntervalMs: 100 }) });
    producer = new PostgresTransport({ url: h.db.url });
    await producer.connect();
  });

  afterAll(async () => {
    await producer.close();
    await h.close();
  });

  it('learns a mall and its vendor from tessera.identity.events, then accepts the vendor on a product', async () => {
    const owner = h.tenant('owner');
    const vendorId = randomUUID();
    const body = { title: 'Vendor brick', vendorId, variants: [{ sku: 'WIRE-V-1', priceAmount: 100, currency: 'EUR' }] };
    const refused = await h.post(owner, '/v1/products', body);
    expect(refused.status).toBe(422);

    const tenant: TenantCreatedV1 = { tenantId: owner.tenantId, slug: 'wired', name: 'Wired mall', type: 'mall', defaultCurrency: 'EUR', plan: 'free', status: 'trial' };
    const vendor: VendorCreatedV1 = { tenantId: owner.tenantId, vendorId, name: 'Wired vendor', commissionRate: 500 };
    await producer.publish(TOPICS.identity, [
      createEnvelope({ source: 'identity', type: IdentityEventTypes.TenantCreated, subject: owner.tenantId, tenantId: owner.tenantId, data: tenant }),
      createEnvelope({ source: 'identity', type: IdentityEventTypes.VendorCreated, subject: vendorId, tenantId: owner.tenantId, data: vendor }),
    ]);

    const deadline = Date.now() + 20_000;
    let res = refused;
    while (res.status === 422 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      res = await h.post(owner, '/v1/products', body);
    }
    expect(res.status).toBe(201);
    expect(res.body.vendorId).toBe(vendorId);
  });
});
