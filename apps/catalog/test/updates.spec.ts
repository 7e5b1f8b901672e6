import { untilLockWaiters } from '@tessera/testing';
import { CatalogHarness, expectProblem, type Caller, type ProductBody } from './support/catalog-harness';

describe('products: patch and archive, with their events', () => {
  let h: CatalogHarness;
  beforeAll(async () => {
    h = await CatalogHarness.start();
  });
  afterAll(async () => {
    await h.close();
  });

  async function seeded(): Promise<{ caller: Caller; product: ProductBody }> {
    const caller = h.tenant('manager');
    const product = await h.createProduct(caller, {
      title: 'Minifigure torso',
      variants: [
        { sku: 'TORSO-BLUE', priceAmount: 300, currency: 'USD', options: { color: 'blue' } },
        { sku: 'TORSO-GREEN', priceAmount: 350, currency: 'USD', options: { color: 'green' } },
      ],
    });
    return { caller, product };
  }

  const eventsAfterCreate = async (caller: Caller) => (await h.outbox(caller.tenantId)).slice(3);

  describe('If-Match', () => {
    it('tags every product response; a change made from a stale read gets 412 and changes nothing', async () => {
      const { caller, product } = await seeded();
      const path = `/v1/products/${product.id}`;
      const read = await h.get(caller, path);
      const tag = read.headers['etag'] as string;
      expect(tag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      expect((await h.get(caller, path)).headers['etag']).toBe(tag);

      const first = await h.patch(caller, path, { attributes: { theme: 'space' } }, { 'if-match': tag });
      expect(first.status).toBe(200);
      const next = first.headers['etag'] as string;
      expect(next).not.toBe(tag);
      expect((await h.get(caller, path)).headers['etag']).toBe(next);

      // A second editor still holding the first read.
      const outbox = (await h.outbox(caller.tenantId)).length;
      const stale = await h.patch(caller, path, { attributes: { theme: 'city' } }, { 'if-match': tag });
      expectProblem(stale, 412);
      expect(stale.body.reason).toBe('product_changed');
      expectProblem(await h.post(caller, `${path}/archive`, {}, { 'if-match': tag }), 412);
      expectProblem(await h.patch(caller, path, { title: 'x' }, { 'if-match': `W/${next}` }), 412);
      const after = await h.get(caller, path);
      expect(after.body).toMatchObject({ attributes: { theme: 'space' }, status: 'active', version: 2 });
      expect((await h.outbox(caller.tenantId)).length).toBe(outbox);

      // A list that holds the current tag, or *, lets the change through.
      expect((await h.patch(caller, path, { title: 'Listed' }, { 'if-match': `${tag}, ${next}` })).status).toBe(200);
      expect((await h.patch(caller, path, { title: 'Any' }, { 'if-match': '*' })).status).toBe(200);
    });

    it('takes a variant id in upper case as that variant', async () => {
      const { caller, product } = await seeded();
      const res = await h.patch(caller, `/v1/products/${product.id}`, { variants: [{ id: product.variants[0].id.toUpperCase(), priceAmount: 310 }] });
      expect(res.status).toBe(200);
      expect(res.body.variants[0]).toMatchObject({ id: product.variants[0].id, priceAmount: 310 });
    });

    it("a variant's change changes the product's tag though the product's version stays", async () => {
      const { caller, product } = await seeded();
      const path = `/v1/products/${product.id}`;
      const tag = (await h.get(caller, path)).headers['etag'] as string;
      const changed = await h.patch(caller, path, { variants: [{ id: product.variants[1].id, priceAmount: 360 }] });
      expect(changed.status).toBe(200);
      expect(changed.body.version).toBe(product.version);
      expect(changed.headers['etag']).not.toBe(tag);
      expectProblem(await h.patch(caller, path, { variants: [{ id: product.variants[1].id, priceAmount: 370 }] }, { 'if-match': tag }), 412);
      const archived = await h.post(caller, `${path}/archive`, {}, { 'if-match': changed.headers['etag'] as string });
      expect(archived.status).toBe(200);
      expect(archived.body.status).toBe('archived');
    });
  });

  it('changes product fields, bumps the version and emits catalog.product.updated naming them', async () => {
    const { caller, product } = await seeded();
    const res = await h.patch(caller, `/v1/products/${product.id}`, {
      title: 'Minifigure torso, printed',
      description: 'Printed torso',
      attributes: { theme: 'space' },
      images: [{ url: 'https://cdn.example.com/t.png' }],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      title: 'Minifigure torso, printed',
      description: 'Printed torso',
      attributes: { theme: 'space' },
      images: [{ url: 'https://cdn.example.com/t.png', alt: null }],
      version: 2,
      status: 'active',
    });
    const events = await eventsAfterCreate(caller);
    expect(events.map((e) => e.type)).toEqual(['catalog.product.updated']);
    expect(events[0].envelope.data).toMatchObject({ productId: product.id, version: 2, changed: ['title', 'description', 'attributes', 'images'] });

    // Clearing the description with null, and reading it back.
    const cleared = await h.patch(caller, `/v1/products/${product.id}`, { description: null });
    expect(cleared.body).toMatchObject({ description: null, version: 3 });
    expect((await h.get(caller, `/v1/products/${product.id}`)).body.description).toBeNull();
  });

  it('changes a variant price by id and emits catalog.variant.updated with the new price', async () => {
    const { caller, product } = await seeded();
    const [blue, green] = product.variants;
    const res = await h.patch(caller, `/v1/products/${product.id}`, {
      variants: [{ id: blue.id, priceAmount: 275, compareAtAmount: 300 }],
    });
    expect(res.status).toBe(200);
    expect(res.body.version).toBe(1);
    expect(res.body.variants).toEqual([
      expect.objectContaining({ id: blue.id, priceAmount: 275, compareAtAmount: 300, version: 2 }),
      expect.objectContaining({ id: green.id, priceAmount: 350, version: 1 }),
    ]);
    const events = await eventsAfterCreate(caller);
    expect(events.map((e) => e.type)).toEqual(['catalog.variant.updated']);
    expect(events[0]).toMatchObject({ subject: blue.id, partition_key: product.id });
    expect(events[0].envelope.data).toMatchObject({
      variantId: blue.id,
      sku: 'TORSO-BLUE',
      priceAmount: 275,
      compareAtAmount: 300,
      currency: 'USD',
      status: 'active',
      version: 2,
      changed: ['priceAmount', 'compareAtAmount'],
    });
  });

  it('adds a variant and emits catalog.variant.created; the new SKU is searchable', async () => {
    const { caller, product } = await seeded();
    const res = await h.patch(caller, `/v1/products/${product.id}`, {
      variants: [{ sku: 'TORSO-RED', priceAmount: 320, currency: 'USD', options: { color: 'red' } }],
    });
    expect(res.status).toBe(200);
    expect(res.body.variants.map((v: { sku: string }) => v.sku)).toEqual(['TORSO-BLUE', 'TORSO-GREEN', 'TORSO-RED']);
    const added = res.body.variants[2];
    expect(added.id).toMatch(/^[0-9a-f-]{36}$/);
    const events = await eventsAfterCreate(caller);
    expect(events.map((e) => e.type)).toEqual(['catalog.variant.created']);
    expect(events[0].envelope.data).toMatchObject({ variantId: added.id, sku: 'TORSO-RED', priceAmount: 320, status: 'active' });
    const found = await h.get(caller, '/v1/products?q=TORSO-RED');
    expect(found.body.items.map((p: { id: string }) => p.id)).toEqual([product.id]);
  });

  it('refuses an added SKU that is taken with 409 naming it, and changes nothing', async () => {
    const { caller, product } = await seeded();
    const before = await h.counts(caller.tenantId);
    const res = await h.patch(caller, `/v1/products/${product.id}`, {
      title: 'Renamed',
      variants: [{ sku: 'TORSO-GREEN', priceAmount: 320, currency: 'USD' }],
    });
    expectProblem(res, 409);
    expect(res.body.sku).toBe('TORSO-GREEN');
    expect(await h.counts(caller.tenantId)).toEqual(before);
    expect((await h.get(caller, `/v1/products/${product.id}`)).body.title).toBe('Minifigure torso');
  });

  it('a patch that changes nothing writes nothing', async () => {
    const { caller, product } = await seeded();
    const res = await h.patch(caller, `/v1/products/${product.id}`, {
      title: 'Minifigure torso',
      variants: [{ id: product.variants[0].id, priceAmount: 300, options: { color: 'blue' } }],
    });
    expect(res.status).toBe(200);
    expect(res.body.version).toBe(1);
    expect(await eventsAfterCreate(caller)).toEqual([]);
  });

  it('a status change moves every variant: draft is announced as not sellable, active again as sellable', async () => {
    const { caller, product } = await seeded();
    const draft = await h.patch(caller, `/v1/products/${product.id}`, { status: 'draft' });
    expect(draft.body.variants.map((v: { effectiveStatus: string }) => v.effectiveStatus)).toEqual(['draft', 'draft']);
    let events = await eventsAfterCreate(caller);
    expect(events.map((e) => e.type)).toEqual(['catalog.product.updated', 'catalog.variant.updated', 'catalog.variant.updated']);
    expect(events[0].envelope.data).toMatchObject({ status: 'draft', changed: ['status'] });
    expect(events.slice(1).map((e) => [e.envelope.data['sku'], e.envelope.data['status'], e.envelope.data['changed']])).toEqual([
      ['TORSO-BLUE', 'draft', ['status']],
      ['TORSO-GREEN', 'draft', ['status']],
    ]);

    await h.patch(caller, `/v1/products/${product.id}`, { status: 'active' });
    events = (await eventsAfterCreate(caller)).slice(3);
    expect(events.map((e) => [e.type, e.envelope.data['status']])).toEqual([
      ['catalog.product.updated', 'active'],
      ['catalog.variant.updated', 'active'],
      ['catalog.variant.updated', 'active'],
    ]);
  });

  it('archives one variant through patch; it is no longer sellable', async () => {
    const { caller, product } = await seeded();
    const res = await h.patch(caller, `/v1/products/${product.id}`, { variants: [{ id: product.variants[1].id, status: 'archived' }] });
    expect(res.body.variants[1]).toMatchObject({ status: 'archived', effectiveStatus: 'archived' });
    const events = await eventsAfterCreate(caller);
    expect(events.map((e) => [e.type, e.envelope.data['sku'], e.envelope.data['status']])).toEqual([
      ['catalog.variant.updated', 'TORSO-GREEN', 'archived'],
    ]);

    // A variant can also be added already archived (e.g. kept for history); it is announced as not sellable.
    const added = await h.patch(caller, `/v1/products/${product.id}`, {
      variants: [{ sku: 'TORSO-OLD', priceAmount: 100, currency: 'USD', status: 'archived' }],
    });
    expect(added.body.variants[2]).toMatchObject({ sku: 'TORSO-OLD', status: 'archived', effectiveStatus: 'archived' });
    const last = (await eventsAfterCreate(caller)).pop();
    expect(last).toMatchObject({ type: 'catalog.variant.created' });
    expect(last?.envelope.data).toMatchObject({ sku: 'TORSO-OLD', status: 'archived' });
  });

  it('archives a product: catalog.product.archived and every variant announced archived; archiving again is a no-op', async () => {
    const { caller, product } = await seeded();
    const res = await h.post(caller, `/v1/products/${product.id}/archive`, {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'archived', version: 2 });
    expect(res.body.variants.map((v: { effectiveStatus: string }) => v.effectiveStatus)).toEqual(['archived', 'archived']);
    const events = await eventsAfterCreate(caller);
    expect(events.map((e) => e.type)).toEqual(['catalog.product.archived', 'catalog.variant.updated', 'catalog.variant.updated']);
    expect(events[0].envelope.data).toMatchObject({ productId: product.id, status: 'archived', version: 2 });
    expect(events[1].envelope.data).toMatchObject({ sku: 'TORSO-BLUE', status: 'archived', priceAmount: 300, version: 2 });

    const again = await h.post(caller, `/v1/products/${product.id}/archive`, {});
    expect(again.status).toBe(200);
    expect(again.body.version).toBe(2);
    expect(await eventsAfterCreate(caller)).toHaveLength(3);

    const archivedList = await h.get(caller, '/v1/products?status=archived');
    expect(archivedList.body.items.map((p: { id: string }) => p.id)).toEqual([product.id]);
    expect((await h.get(caller, '/v1/products?status=active')).body.items).toEqual([]);
  });

  it('archiving through PATCH status emits catalog.product.archived', async () => {
    const { caller, product } = await seeded();
    const res = await h.patch(caller, `/v1/products/${product.id}`, { status: 'archived' });
    expect(res.body.status).toBe('archived');
    const types = (await eventsAfterCreate(caller)).map((e) => e.type);
    expect(types).toEqual(['catalog.product.archived', 'catalog.variant.updated', 'catalog.variant.updated']);
  });

  it('concurrent price changes of one product both land, one after the other (row lock)', async () => {
    const { caller, product } = await seeded();
    const [blue, green] = product.variants;
    const [a, b] = await Promise.all([
      h.patch(caller, `/v1/products/${product.id}`, { variants: [{ id: blue.id, priceAmount: 111 }] }),
      h.patch(caller, `/v1/products/${product.id}`, { variants: [{ id: green.id, priceAmount: 222 }] }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const read = await h.get(caller, `/v1/products/${product.id}`);
    expect(read.body.variants.map((v: { priceAmount: number }) => v.priceAmount)).toEqual([111, 222]);
  });

  describe('reads from one snapshot', () => {
    /**
     * Holds catalog.variants locked while a read is under way, so that the read has taken its snapshot with the
     * products statement and waits on its variants statement; commits `change` in the lock's transaction meanwhile,
     * then lets the read finish. A read that took a new snapshot per statement would see the change half.
     */
    async function readAcross(read: () => Promise<{ status: number; body: unknown }>, change: (q: (sql: string, params: unknown[]) => Promise<unknown>) => Promise<void>) {
      const locker = await h.admin.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE catalog.variants IN ACCESS EXCLUSIVE MODE');
        const reading = read();
        if (!(await untilLockWaiters((sql, params) => h.admin.query(sql, params).then((r) => r.rows), 1, '%variants%'))) {
          throw new Error('the read never waited on catalog.variants');
        }
        await change((sql, params) => locker.query(sql, params));
        await locker.query('COMMIT');
        return await reading;
      } finally {
        locker.release();
      }
    }

    const renameAndReprice = (id: string) => async (q: (sql: string, params: unknown[]) => Promise<unknown>) => {
      await q(`UPDATE catalog.products SET title = 'Renamed' WHERE id = $1`, [id]);
      await q(`UPDATE catalog.variants SET price_amount = price_amount + 1 WHERE product_id = $1`, [id]);
    };

    it('GET /v1/products/{id} shows the product and its variants as they were together', async () => {
      const { caller, product } = await seeded();
      const res = await readAcross(() => h.get(caller, `/v1/products/${product.id}`), renameAndReprice(product.id));
      expect(res.status).toBe(200);
      const body = res.body as ProductBody & { title: string; variants: { priceAmount: number }[] };
      expect([body.title, body.variants.map((v) => v.priceAmount).sort()]).toEqual(['Minifigure torso', [300, 350]]);
      const after = (await h.get(caller, `/v1/products/${product.id}`)).body as typeof body;
      expect([after.title, after.variants.map((v) => v.priceAmount).sort()]).toEqual(['Renamed', [301, 351]]);
    });

    it('GET /v1/products shows each product and its variants as they were together', async () => {
      const { caller, product } = await seeded();
      const res = await readAcross(() => h.get(caller, '/v1/products'), renameAndReprice(product.id));
      expect(res.status).toBe(200);
      const item = (res.body as { items: (ProductBody & { title: string; variants: { priceAmount: number }[] })[] }).items.find((p) => p.id === product.id);
      expect([item?.title, item?.variants.map((v) => v.priceAmount).sort()]).toEqual(['Minifigure torso', [300, 350]]);
    });
  });
});
