import { IdempotencyKeysPurger } from '@tessera/persistence';
import { CatalogHarness, expectProblem, type Caller } from './support/catalog-harness';

const product = (sku: string, priceAmount = 125) => ({
  title: 'Red brick 2x4',
  variants: [{ sku, priceAmount, currency: 'EUR', options: { color: 'red' } }],
});

describe('Idempotency-Key on POST /v1/products', () => {
  let h: CatalogHarness;
  let owner: Caller;

  beforeAll(async () => {
    h = await CatalogHarness.start();
    owner = h.tenant('owner');
  });

  afterAll(async () => {
    await h.close();
  });

  const create = (caller: Caller, body: unknown, key: string) => h.post(caller, '/v1/products', body, { 'Idempotency-Key': key });

  it('replays the first 201 for the same key and body, creating one product and one set of events', async () => {
    const before = await h.counts(owner.tenantId);
    const first = await create(owner, product('IDEM-1'), 'key-replay');
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await create(owner, product('IDEM-1'), 'key-replay');
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const after = await h.counts(owner.tenantId);
    expect(after).toEqual({ products: before.products + 1, variants: before.variants + 1, events: before.events + 2 });
  });

  it('answers 422 when the key comes back with another body, and creates nothing', async () => {
    await create(owner, product('IDEM-2'), 'key-other-body');
    const before = await h.counts(owner.tenantId);
    const res = await create(owner, product('IDEM-2', 999), 'key-other-body');
    expectProblem(res, 422);
    expect(res.body.reason).toBe('idempotency_key_reused');
    expect(await h.counts(owner.tenantId)).toEqual(before);
  });

  it('refuses a malformed key with 400 and creates nothing', async () => {
    const before = await h.counts(owner.tenantId);
    for (const key of ['k'.repeat(300), 'has space', 'tab\tkey']) expectProblem(await create(owner, product('IDEM-3'), key), 400);
    expect(await h.counts(owner.tenantId)).toEqual(before);
  });

  it('scopes keys to the tenant', async () => {
    const other = h.tenant('owner');
    const mine = await create(owner, product('IDEM-4'), 'key-shared');
    const theirs = await create(other, product('IDEM-4', 500), 'key-shared');
    expect(theirs.status).toBe(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.body.id).not.toBe(mine.body.id);
    expect((await h.counts(other.tenantId)).products).toBe(1);
  });

  it('frees the key when the create fails (SKU taken), so a corrected retry can use it', async () => {
    await h.createProduct(owner, product('IDEM-TAKEN'));
    const refused = await create(owner, product('IDEM-TAKEN'), 'key-failed');
    expectProblem(refused, 409);
    expect(refused.body.reason).toBe('sku_taken');
    const retried = await create(owner, product('IDEM-TAKEN'), 'key-failed');
    expectProblem(retried, 409);
    expect(retried.body.reason).toBe('sku_taken');
    const corrected = await create(owner, product('IDEM-FREE'), 'key-failed');
    expect(corrected.status).toBe(201);
  });

  it('purges expired keys in the background (the run its timer makes), keeping live ones', async () => {
    await create(owner, product('IDEM-PURGE-1'), 'key-purge-expired');
    await create(owner, product('IDEM-PURGE-2'), 'key-purge-live');
    await h.admin.query(`UPDATE catalog.idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1 AND key = 'key-purge-expired'`, [
      owner.tenantId,
    ]);
    expect(await h.app.get(IdempotencyKeysPurger).purge()).toBeGreaterThanOrEqual(1);
    const { rows } = await h.admin.query(`SELECT key FROM catalog.idempotency_keys WHERE tenant_id = $1 AND key LIKE 'key-purge-%'`, [owner.tenantId]);
    expect(rows).toEqual([{ key: 'key-purge-live' }]);
  });
});
