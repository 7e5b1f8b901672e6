import { CatalogHarness, type Caller } from './support/catalog-harness';

interface Page {
  items: { id: string; title: string }[];
  nextCursor: string | null;
}

describe('search, filters and cursor pagination', () => {
  let h: CatalogHarness;
  let caller: Caller;
  const titles = async (query: string): Promise<string[]> => {
    const res = await h.get(caller, `/v1/products?${query}`);
    expect(res.status).toBe(200);
    return (res.body as Page).items.map((p) => p.title).sort();
  };

  beforeAll(async () => {
    h = await CatalogHarness.start();
    caller = h.tenant('staff');
    const seed: [string, string, string[], string?][] = [
      ['Red brick 2x4', 'Classic building bricks for walls.', ['BRK-3001-RED', 'BRK-3001-RED-USED']],
      ['Blue plate 1x6', 'A thin plate; stacks on bricks.', ['PLT-3666-BLU']],
      ['Castle minifigure', 'A knight with a shield and a sword.', ['FIG-CAS-0042']],
      ['Space baseplate', 'Grey cratered moon surface.', ['BP-SPACE-32'], 'draft'],
      ['Instructions booklet', 'Printed instructions, digital copy included.', ['DOC-6080']],
    ];
    for (const [title, description, skus, status] of seed) {
      await h.createProduct(caller, {
        title,
        description,
        status,
        variants: skus.map((sku) => ({ sku, priceAmount: 100, currency: 'EUR' })),
      });
    }
    // Another tenant's products never show up.
    await h.createProduct(h.tenant('owner'), { title: 'Red brick 2x4 (other shop)', variants: [{ sku: 'BRK-3001-RED', priceAmount: 90, currency: 'EUR' }] });
  });
  afterAll(async () => {
    await h.close();
  });

  it('finds products by a word of the title or description, with English stemming', async () => {
    expect(await titles('q=brick')).toEqual(['Blue plate 1x6', 'Red brick 2x4']);
    expect(await titles('q=shields')).toEqual(['Castle minifigure']);
    expect(await titles('q=knight%20sword')).toEqual(['Castle minifigure']);
    expect(await titles('q=%22moon%20surface%22')).toEqual(['Space baseplate']);
    expect(await titles('q=dragon')).toEqual([]);
  });

  it('finds products by a whole SKU and by part of a SKU (trigram index)', async () => {
    expect(await titles('q=PLT-3666-BLU')).toEqual(['Blue plate 1x6']);
    expect(await titles('q=0042')).toEqual(['Castle minifigure']);
    expect(await titles('q=cas-00')).toEqual(['Castle minifigure']);
    expect(await titles('q=3001-RED-US')).toEqual(['Red brick 2x4']);
    expect(await titles('q=SPACE-3')).toEqual(['Space baseplate']);
    // A mistyped SKU still matches by trigram similarity.
    expect(await titles('q=DOC-6008')).toEqual(['Instructions booklet']);
  });

  it('has GIN indexes for words (search_document) and partial SKUs (trigrams)', async () => {
    const c = await h.admin.connect();
    const plan = async (sql: string) => (await c.query(`EXPLAIN ${sql}`)).rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
    try {
      await c.query('BEGIN');
      // The table is tiny, so a sequential scan would win; forbid it to see that an index can answer.
      await c.query('SET LOCAL enable_seqscan = off');
      expect(await plan(`SELECT id FROM catalog.variants WHERE sku ILIKE '%3001-RE%'`)).toContain('variants_sku_trgm_idx');
      expect(await plan(`SELECT id FROM catalog.variants WHERE sku OPERATOR(public.%) 'DOC-6008'`)).toContain('variants_sku_trgm_idx');
      expect(await plan(`SELECT id FROM catalog.products WHERE search_document @@ websearch_to_tsquery('english', 'brick')`)).toContain(
        'products_search_idx',
      );
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
  });

  it('filters by status and combines it with the query', async () => {
    expect(await titles('status=draft')).toEqual(['Space baseplate']);
    expect(await titles('status=active&q=space')).toEqual([]);
    expect(await titles('status=active')).toHaveLength(4);
  });

  it('survives search text with operators, quotes and LIKE wildcards', async () => {
    for (const q of ["'", '%', '_', '\\', '!(&|:*', 'OR', '-brick', 'a'.repeat(200)]) {
      const res = await h.get(caller, `/v1/products?q=${encodeURIComponent(q)}`);
      expect(res.status).toBe(200);
      expect(Array.isArray(res.body.items)).toBe(true);
    }
    // `%` and `_` are literals, not wildcards.
    expect(await titles('q=%25')).toEqual([]);
    // websearch syntax: a leading minus excludes a word.
    expect(await titles('q=brick%20-plate')).toEqual(['Red brick 2x4']);
  });

  it('reads a single token with a leading minus as a word or a part of a SKU, not as "every product without it"', async () => {
    expect(await titles('q=-zzz')).toEqual([]);
    expect(await titles('q=-0042')).toEqual(['Castle minifigure']);
    expect(await titles('q=-RED-USED')).toEqual(['Red brick 2x4']);
    expect(await titles('q=-shield')).toEqual(['Castle minifigure']);
  });

  it('ranks an exact SKU first, then word and part-of-SKU matches, then merely similar SKUs, paging through each once', async () => {
    const ranker = h.tenant('owner');
    const make = async (title: string, sku: string, description?: string) =>
      h.createProduct(ranker, { title, description, variants: [{ sku, priceAmount: 100, currency: 'EUR' }] });
    // The exact match is the oldest: newest first alone would put it last.
    await make('Exact', 'FAM-100-RED');
    await make('Family 101', 'FAM-101-RED');
    await make('Family 102', 'FAM-102-RED');
    await make('Longer', 'XFAM-100-RED-2');
    await make('Named in words', 'OTHER-9', 'Fits fam-100-red sets.');
    const ranked = async (query: string, limit = 20): Promise<string[]> => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await h.get(ranker, `/v1/products?q=${encodeURIComponent(query)}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        seen.push(...(res.body as Page).items.map((p) => p.title));
        cursor = (res.body as Page).nextCursor;
      } while (cursor && seen.length < 50);
      return seen;
    };
    const expected = ['Exact', 'Named in words', 'Longer', 'Family 102', 'Family 101'];
    expect(await ranked('FAM-100-RED')).toEqual(expected);
    expect(await ranked('fam-100-red', 1)).toEqual(expected);
    expect(await ranked('FAM-100-RED', 2)).toEqual(expected);
  });

  it('reads text in search syntax as words only, so an excluded word excludes its other forms too', async () => {
    expect(await titles('q=plate%20-bricks')).toEqual([]);
    expect(await titles('q=brick%20-stacks')).toEqual(['Red brick 2x4']);
    expect(await titles('q=brick%20OR%20knight')).toEqual(['Blue plate 1x6', 'Castle minifigure', 'Red brick 2x4']);
  });

  it('pages through every product exactly once, newest first, with a limit cap', async () => {
    const pager = h.tenant('viewer');
    for (let i = 0; i < 23; i++) {
      await h.createProduct(h.as(pager, 'owner'), { title: `Paged ${String(i).padStart(2, '0')}`, variants: [{ sku: `PG-${i}`, priceAmount: 1, currency: 'JPY' }] });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await h.get(pager, `/v1/products?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = res.body as Page;
      expect(page.items.length).toBeLessThanOrEqual(10);
      seen.push(...page.items.map((p) => p.title));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(23);
    expect(new Set(seen).size).toBe(23);
    expect(seen[0]).toBe('Paged 22');
    expect(seen[22]).toBe('Paged 00');

    // Pagination also works inside a search, and the default page is 20.
    const first = (await h.get(pager, '/v1/products?q=paged')).body as Page;
    expect(first.items).toHaveLength(20);
    const second = (await h.get(pager, `/v1/products?q=paged&cursor=${first.nextCursor}`)).body as Page;
    expect(second.items).toHaveLength(3);
    expect(second.nextCursor).toBeNull();
    const max = await h.get(pager, '/v1/products?limit=100');
    expect(max.body.items).toHaveLength(23);
    expect(max.body.items[0].variants[0]).toMatchObject({ sku: 'PG-22', priceAmount: 1, currency: 'JPY' });
  });

  it("names the page's last product in its cursor, not the sequence every tenant shares, and refuses another tenant's", async () => {
    const mine = h.tenant('viewer');
    const theirs = h.tenant('owner');
    for (const i of [0, 1, 2]) await h.createProduct(h.as(mine, 'owner'), { title: `Mine ${i}`, variants: [{ sku: `MINE-${i}`, priceAmount: 1, currency: 'EUR' }] });
    const first = (await h.get(mine, '/v1/products?limit=2')).body as Page;
    expect(JSON.parse(Buffer.from(first.nextCursor as string, 'base64url').toString('utf8'))).toEqual({ id: first.items[1].id });
    expect(((await h.get(mine, `/v1/products?limit=2&cursor=${first.nextCursor}`)).body as Page).items.map((p) => p.title)).toEqual(['Mine 0']);
    const searched = (await h.get(mine, '/v1/products?q=mine&limit=1')).body as Page;
    expect(JSON.parse(Buffer.from(searched.nextCursor as string, 'base64url').toString('utf8'))).toEqual({ id: searched.items[0].id, tier: 1 });

    // Another tenant's cursor names a product the caller cannot see: a 400, not a page of the caller's own rows.
    for (const path of ['/v1/products?limit=2', '/v1/products?q=mine&limit=1']) {
      const res = await h.get(theirs, `${path}&cursor=${path.includes('q=') ? searched.nextCursor : first.nextCursor}`);
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['cursor']);
    }
  });
});
