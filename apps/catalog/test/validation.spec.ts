import { CatalogHarness, errorFields, expectProblem, type Caller, type ProductBody } from './support/catalog-harness';

const variant = (extra: Record<string, unknown> = {}) => ({ sku: 'VAL-1', priceAmount: 100, currency: 'EUR', ...extra });
const product = (extra: Record<string, unknown> = {}) => ({ title: 'Valid', variants: [variant()], ...extra });

describe('bad input gets 400 problem+json naming the field, and changes nothing', () => {
  let h: CatalogHarness;
  let caller: Caller;
  let existing: ProductBody;
  beforeAll(async () => {
    h = await CatalogHarness.start();
    caller = h.tenant('owner');
    existing = await h.createProduct(caller, {
      title: 'Existing',
      variants: [{ sku: 'EXIST-1', priceAmount: 500, currency: 'EUR', compareAtAmount: 600 }],
    });
  });
  afterAll(async () => {
    await h.close();
  });

  const createCases: [string, Record<string, unknown>, string][] = [
    ['a zero price', product({ variants: [variant({ priceAmount: 0 })] }), 'variants.0.priceAmount'],
    ['a negative price', product({ variants: [variant({ priceAmount: -100 })] }), 'variants.0.priceAmount'],
    ['a fractional price', product({ variants: [variant({ priceAmount: 9.99 })] }), 'variants.0.priceAmount'],
    ['a price given as a string', product({ variants: [variant({ priceAmount: '100' })] }), 'variants.0.priceAmount'],
    ['an absurd price', product({ variants: [variant({ priceAmount: 1e15 })] }), 'variants.0.priceAmount'],
    ['an unknown currency', product({ variants: [variant({ currency: 'XYZ' })] }), 'variants.0.currency'],
    ['a lower-case currency', product({ variants: [variant({ currency: 'eur' })] }), 'variants.0.currency'],
    ['a missing currency', product({ variants: [{ sku: 'VAL-1', priceAmount: 100 }] }), 'variants.0.currency'],
    ['a compare-at price below the price', product({ variants: [variant({ compareAtAmount: 50 })] }), 'variants.0.compareAtAmount'],
    ['a zero compare-at price', product({ variants: [variant({ compareAtAmount: 0 })] }), 'variants.0.compareAtAmount'],
    ['an unknown top-level field', product({ price: 100 }), 'price'],
    ['an unknown variant field', product({ variants: [variant({ stock: 5 })] }), 'variants.0.stock'],
    ['no variants', product({ variants: [] }), 'variants'],
    ['variants that are not objects', product({ variants: ['VAL-1'] }), 'variants.0'],
    ['too many variants', product({ variants: Array.from({ length: 101 }, (_, i) => variant({ sku: `MANY-${i}` })) }), 'variants'],
    ['a missing title', { variants: [variant()] }, 'title'],
    ['a blank title', product({ title: '   ' }), 'title'],
    ['an absurdly long title', product({ title: 'x'.repeat(301) }), 'title'],
    ['a SKU with spaces', product({ variants: [variant({ sku: 'BAD SKU' })] }), 'variants.0.sku'],
    ['an absurdly long SKU', product({ variants: [variant({ sku: 'A'.repeat(65) })] }), 'variants.0.sku'],
    ['an unknown fulfillment', product({ variants: [variant({ fulfillment: 'teleport' })] }), 'variants.0.fulfillment'],
    ['a negative weight', product({ variants: [variant({ weightGrams: -1 })] }), 'variants.0.weightGrams'],
    ['an absurd weight', product({ variants: [variant({ weightGrams: 5_000_000 })] }), 'variants.0.weightGrams'],
    ['options that are not strings', product({ variants: [variant({ options: { size: 42 } })] }), 'variants.0.options'],
    ['a condition option other than new or used', product({ variants: [variant({ options: { condition: 'mint' } })] }), 'variants.0.options'],
    ['a condition option spelt in another case', product({ variants: [variant({ options: { Condition: 'used' } })] }), 'variants.0.options'],
    ['too many options', product({ variants: [variant({ options: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`o${i}`, 'x'])) })] }), 'variants.0.options'],
    ['nested attributes', product({ attributes: { dims: { w: 1 } } }), 'attributes'],
    ['attributes as a list', product({ attributes: ['a'] }), 'attributes'],
    ['an image that is not a URL', product({ images: [{ url: 'javascript:alert(1)' }] }), 'images.0.url'],
    ['an image with an unknown field', product({ images: [{ url: 'https://x.example/a.png', size: 1 }] }), 'images.0.size'],
    ['status archived on create', product({ status: 'archived' }), 'status'],
    ['a vendor that is not a UUID', product({ vendorId: 'acme' }), 'vendorId'],
  ];

  it.each(createCases)('POST /v1/products refuses %s', async (_what, body, field) => {
    const before = await h.counts(caller.tenantId);
    const res = await h.post(caller, '/v1/products', body);
    expectProblem(res, 400);
    expect(errorFields(res)).toContain(field);
    expect(await h.counts(caller.tenantId)).toEqual(before);
  });

  it('refuses with a 400 naming the title, not a 500, a title the database cannot hold, and changes nothing', async () => {
    // 305 code points, as the table's CHECK counts them (class-validator's MaxLength counted 300: it skips each
    // heart's variation selector); and a lone surrogate, which PostgreSQL cannot read back from JSON.
    for (const title of ['x'.repeat(295) + '❤️'.repeat(5), 'Lamp \ud83d']) {
      const before = await h.counts(caller.tenantId);
      const res = await h.post(caller, '/v1/products', product({ title, variants: [variant({ sku: 'EDGE-1' })] }));
      expectProblem(res, 400);
      expect(errorFields(res)).toContain('title');
      expect(await h.counts(caller.tenantId)).toEqual(before);
    }
  });

  it('refuses malformed JSON and a body that is not an object', async () => {
    const headers = await h.headers(caller);
    const malformed = await h.http.post('/v1/products').set(headers).set('content-type', 'application/json').send('{"title": ');
    expectProblem(malformed, 400);
    expectProblem(await h.http.post('/v1/products').set(headers).send([product()]), 400);
  });

  const patchCases: [string, (p: ProductBody) => Record<string, unknown>, string][] = [
    ['a zero price', (p) => ({ variants: [{ id: p.variants[0].id, priceAmount: 0 }] }), 'variants.0.priceAmount'],
    ['a null price', (p) => ({ variants: [{ id: p.variants[0].id, priceAmount: null }] }), 'variants.0.priceAmount'],
    ['a wrong currency', (p) => ({ variants: [{ id: p.variants[0].id, currency: 'EURO' }] }), 'variants.0.currency'],
    ['a price above the compare-at price', (p) => ({ variants: [{ id: p.variants[0].id, priceAmount: 700 }] }), 'variants.0.compareAtAmount'],
    ['a SKU change', (p) => ({ variants: [{ id: p.variants[0].id, sku: 'EXIST-2' }] }), 'variants.0.sku'],
    ['a variant of another product', () => ({ variants: [{ id: '00000000-0000-4000-8000-000000000000', priceAmount: 10 }] }), 'variants.0.id'],
    ['a new variant without a price', () => ({ variants: [{ sku: 'NEW-1', currency: 'EUR' }] }), 'variants.0.priceAmount'],
    ['an unknown field', () => ({ name: 'x' }), 'name'],
    ['an unknown variant field', (p) => ({ variants: [{ id: p.variants[0].id, stock: 1 }] }), 'variants.0.stock'],
    ['a null title', () => ({ title: null }), 'title'],
    ['an unknown status', () => ({ status: 'deleted' }), 'status'],
    ['a null variant status', (p) => ({ variants: [{ id: p.variants[0].id, status: null }] }), 'variants.0.status'],
    ['the same variant twice', (p) => ({ variants: [{ id: p.variants[0].id, priceAmount: 400 }, { id: p.variants[0].id, priceAmount: 450 }] }), 'variants.1.id'],
    ['a null variant id', () => ({ variants: [{ id: null, priceAmount: 400 }] }), 'variants.0.id'],
    ['more variants than a product may have', () => ({ variants: Array.from({ length: 100 }, (_, i) => ({ sku: `ADD-${i}`, priceAmount: 100, currency: 'EUR' })) }), 'variants'],
  ];

  it.each(patchCases)('PATCH /v1/products/{id} refuses %s', async (_what, body, field) => {
    const before = await h.counts(caller.tenantId);
    const res = await h.patch(caller, `/v1/products/${existing.id}`, { title: 'Changed too', ...body(existing) });
    expectProblem(res, 400);
    expect(errorFields(res)).toContain(field);
    expect(await h.counts(caller.tenantId)).toEqual(before);
    const read = await h.get(caller, `/v1/products/${existing.id}`);
    expect(read.body).toMatchObject({ title: 'Existing', version: 1 });
    expect(read.body.variants[0]).toMatchObject({ priceAmount: 500, currency: 'EUR', sku: 'EXIST-1', version: 1 });
  });

  it("PATCH refuses another tenant's variant id with 400 and changes neither product", async () => {
    const other = h.tenant('owner');
    const theirs = await h.createProduct(other, { title: 'Theirs', variants: [{ sku: 'THEIRS-1', priceAmount: 700, currency: 'EUR' }] });
    const before = await h.counts(caller.tenantId);
    const res = await h.patch(caller, `/v1/products/${existing.id}`, { variants: [{ id: theirs.variants[0].id, priceAmount: 1 }] });
    expectProblem(res, 400);
    expect(errorFields(res)).toContain('variants.0.id');
    expect(await h.counts(caller.tenantId)).toEqual(before);
    expect((await h.get(other, `/v1/products/${theirs.id}`)).body.variants[0]).toMatchObject({ priceAmount: 700, version: 1 });
  });

  it('PATCH refuses the same new SKU twice with 400 naming the repeat, and adds neither', async () => {
    const before = await h.counts(caller.tenantId);
    const twice = { sku: 'TWICE-1', priceAmount: 100, currency: 'EUR' };
    const res = await h.patch(caller, `/v1/products/${existing.id}`, { variants: [twice, { id: existing.variants[0].id, priceAmount: 5 }, twice] });
    expectProblem(res, 400);
    expect(errorFields(res)).toEqual(['variants.2.sku']);
    expect(await h.counts(caller.tenantId)).toEqual(before);
  });

  it('refuses ids that are not UUIDs with 400', async () => {
    expectProblem(await h.get(caller, '/v1/products/not-a-uuid'), 400);
    expectProblem(await h.patch(caller, '/v1/products/not-a-uuid', { title: 'x' }), 400);
    expectProblem(await h.post(caller, '/v1/products/not-a-uuid/archive', {}), 400);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=1000', 'limit'],
    ['limit=ten', 'limit'],
    ['status=deleted', 'status'],
    ['cursor=%25%25', 'cursor'],
    [`cursor=${Buffer.from('{"seq":"x"}').toString('base64url')}`, 'cursor'],
    [`cursor=${Buffer.from('{"seq":5}').toString('base64url')}`, 'cursor'],
    [`cursor=${Buffer.from('{"id":"00000000-0000-4000-8000-000000000000"}').toString('base64url')}`, 'cursor'],
    [`q=${'a'.repeat(201)}`, 'q'],
    ['sort=title', 'sort'],
  ])('GET /v1/products?%s is a 400 naming %s', async (query, field) => {
    const res = await h.get(caller, `/v1/products?${query}`);
    expectProblem(res, 400);
    expect(errorFields(res)).toContain(field);
  });
});
