import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { CONTEXT_HEADER } from '@tessera/contracts';
import { ensureMessagingSchema } from '@tessera/messaging';
import { runMigrations, runtimeDatabaseUrl } from '@tessera/persistence';
import { DEFAULT_PAGE_LIMIT, encodeCursor, loadConfig, MAX_PAGE_LIMIT, signCallerContext } from '@tessera/service-kit';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import request from 'supertest';
import { inventoryConfigSchema } from '../src/config';
import { DEFAULT_PAGE, MAX_PAGE } from '../src/domain';
import { startInventory } from '../src/inventory-app';
import { INVENTORY_SCHEMA, inventoryMigrations } from '../src/migrations';
import { announceSkus, PASSWORD } from './harness';

/**
 * GET /v1/inventory/locations and /v1/inventory/levels: keyset pages (`cursor`, `limit` 1 to 100, default 20,
 * `nextCursor`), through the real HTTP stack on the runtime role (RLS applies).
 */
const SECRET = 'inventory-tests-internal-token-secret-0123456789';
let db: TestDatabase;
let app: INestApplication;
const tenant = randomUUID();
const other = randomUUID();
const SKUS = ['PG-A', 'PG-B', 'PG-C', 'PG-D', 'PG-E'];
const LOCATIONS = 9; // 9 warehouses of the tenant, 9 bins in them: 18 locations
/** tenant's level rows: every SKU at every warehouse, new and used. */
const LEVELS = SKUS.length * LOCATIONS * 2;

const http = () => request(app.getHttpServer());
async function as(tenantId = tenant): Promise<Record<string, string>> {
  const token = await signCallerContext(
    { requestId: randomUUID(), tenantId, principalId: randomUUID(), principalType: 'user', roles: ['owner'], scopes: [] },
    SECRET,
    60,
  );
  return { [CONTEXT_HEADER]: token };
}
function expectProblem(res: request.Response, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
}

interface Level {
  sku: string;
  locationId: string;
  condition: string;
  onHand: number;
}
interface Location {
  id: string;
  code: string;
  priority: number;
}

/** Follows nextCursor to the end; checks every page's size against the limit. */
async function pageThrough<T>(path: string, query: Record<string, string | number>, tenantId = tenant): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | undefined;
  let pages = 0;
  const limit = Number(query.limit ?? DEFAULT_PAGE_LIMIT);
  for (;;) {
    const res = await http()
      .get(path)
      .query({ ...query, ...(cursor ? { cursor } : {}) })
      .set(await as(tenantId));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'nextCursor']);
    pages++;
    items.push(...res.body.items);
    if (res.body.nextCursor === null) {
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      return { items, pages };
    }
    expect(res.body.items).toHaveLength(limit);
    expect(res.body.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    cursor = res.body.nextCursor;
    if (pages > 1000) throw new Error('paging does not end');
  }
}

const levelKey = (l: Level) => `${l.sku}|${l.locationId}|${l.condition}`;
const byLevelOrder = (a: Level, b: Level) =>
  a.sku.localeCompare(b.sku) || a.locationId.localeCompare(b.locationId) || a.condition.localeCompare(b.condition);

const warehouses: string[] = [];
let theirLocation: string;

beforeAll(async () => {
  db = await createTestDatabase('invpage');
  await ensureMessagingSchema(db.url);
  await runMigrations({ adminUrl: db.url, schema: INVENTORY_SCHEMA, migrations: inventoryMigrations, password: PASSWORD, extraSchemas: ['messaging'] });
  const config = loadConfig(inventoryConfigSchema, { PORT: '0', LOG_LEVEL: 'silent', INTERNAL_TOKEN_SECRET: SECRET });
  app = await startInventory({ config, databaseUrl: runtimeDatabaseUrl(db.url, INVENTORY_SCHEMA, PASSWORD), handleSignals: false });
  await announceSkus(app, tenant, ...SKUS);
  await announceSkus(app, other, ...SKUS);

  // Priorities repeat (3 per priority), so the order depends on the code tiebreak too.
  for (let i = 0; i < LOCATIONS; i++) {
    const wh = await http().post('/v1/inventory/locations').set(await as()).send({ code: `WH-${8 - i}`, name: `Warehouse ${i}`, priority: Math.floor(i / 3) });
    expect(wh.status).toBe(201);
    warehouses.push(wh.body.id);
    const bin = await http().post('/v1/inventory/locations').set(await as()).send({ code: `BIN-${i}`, name: `Bin ${i}`, type: 'bin', parentId: wh.body.id, priority: 5 });
    expect(bin.status).toBe(201);
  }
  theirLocation = (await http().post('/v1/inventory/locations').set(await as(other)).send({ code: 'WH-0', name: 'Theirs', priority: 0 })).body.id;
  for (const sku of SKUS) {
    for (const [i, locationId] of warehouses.entries()) {
      for (const condition of ['new', 'used']) {
        const res = await http().post('/v1/inventory/movements').set(await as()).send({ type: 'receive', sku, locationId, condition, quantity: i + 1 });
        expect(res.status).toBe(201);
      }
    }
    // The other tenant holds the same SKUs: none of its rows may appear in the tenant's pages.
    expect((await http().post('/v1/inventory/movements').set(await as(other)).send({ type: 'receive', sku, locationId: theirLocation, quantity: 7 })).status).toBe(201);
  }
}, 120_000);
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

it("uses the platform's page limits (PageQueryDto)", () => {
  expect([DEFAULT_PAGE, MAX_PAGE]).toEqual([DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT]);
});

describe('GET /v1/inventory/locations', () => {
  it('pages through every location exactly once, in (priority, code) order, and only the caller tenant', async () => {
    const { items, pages } = await pageThrough<Location>('/v1/inventory/locations', { limit: 4 });
    expect(pages).toBe(5);
    expect(items).toHaveLength(LOCATIONS * 2);
    expect(new Set(items.map((l) => l.id)).size).toBe(items.length);
    expect(items.map((l) => l.id)).not.toContain(theirLocation);
    const sorted = [...items].sort((a, b) => a.priority - b.priority || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
    expect(items.map((l) => l.code)).toEqual(sorted.map((l) => l.code));
    expect(items.slice(0, 3).map((l) => l.code)).toEqual(['WH-6', 'WH-7', 'WH-8']);

    // The default page is 20; limit 100 (the cap) takes them all at once.
    const first = await http().get('/v1/inventory/locations').set(await as());
    expect(first.body.items).toHaveLength(LOCATIONS * 2);
    expect(first.body.nextCursor).toBeNull();
    const all = await http().get('/v1/inventory/locations').query({ limit: MAX_PAGE_LIMIT }).set(await as());
    expect(all.body.items.map((l: Location) => l.id)).toEqual(items.map((l) => l.id));

    const theirs = await pageThrough<Location>('/v1/inventory/locations', { limit: 1 }, other);
    expect(theirs.items.map((l) => l.id)).toEqual([theirLocation]);
  });

  it("another tenant's cursor only positions the caller in the caller's own rows", async () => {
    const page1 = await http().get('/v1/inventory/locations').query({ limit: 2 }).set(await as());
    const res = await http().get('/v1/inventory/locations').query({ limit: 100, cursor: page1.body.nextCursor }).set(await as(other));
    expect(res.status).toBe(200);
    // Their only location (priority 0, WH-0) sorts before the tenant's second one (priority 0, WH-7).
    expect(res.body).toEqual({ items: [], nextCursor: null });
    const fromStart = encodeCursor({ priority: -1, code: 'A' });
    expect((await http().get('/v1/inventory/locations').query({ cursor: fromStart }).set(await as(other))).body.items.map((l: Location) => l.id)).toEqual([theirLocation]);
  });

  it('a location created while paging neither repeats nor shifts the rows already read', async () => {
    const page1 = await http().get('/v1/inventory/locations').query({ limit: 5 }).set(await as());
    // Sorts before the cursor: not on a later page; nothing read before comes again.
    expect((await http().post('/v1/inventory/locations').set(await as()).send({ code: 'AAA-EARLY', name: 'early', priority: 0 })).status).toBe(201);
    const rest = await pageThrough<Location>('/v1/inventory/locations', { limit: 5 });
    const afterCursor = [];
    let cursor = page1.body.nextCursor as string | null;
    while (cursor) {
      const res = await http().get('/v1/inventory/locations').query({ limit: 5, cursor }).set(await as());
      afterCursor.push(...res.body.items);
      cursor = res.body.nextCursor;
    }
    const seen = [...page1.body.items, ...afterCursor].map((l: Location) => l.code);
    expect(seen).not.toContain('AAA-EARLY');
    expect(new Set(seen).size).toBe(seen.length);
    expect(rest.items.map((l) => l.code).filter((c) => c !== 'AAA-EARLY')).toEqual(seen);
  });
});

describe('GET /v1/inventory/levels', () => {
  it('pages through every level exactly once, in (sku, locationId, condition) order, and only the caller tenant', async () => {
    const { items, pages } = await pageThrough<Level>('/v1/inventory/levels', { limit: 7 });
    expect(items).toHaveLength(LEVELS);
    expect(pages).toBe(Math.ceil(LEVELS / 7));
    expect(new Set(items.map(levelKey)).size).toBe(LEVELS);
    expect(items.some((l) => l.locationId === theirLocation)).toBe(false);
    // PostgreSQL's order (the collation of sku, uuid byte order) and a JS sort agree here (ASCII SKUs, hex uuids).
    expect(items.map(levelKey)).toEqual([...items].sort(byLevelOrder).map(levelKey));
    for (const sku of SKUS) for (const [i, wh] of warehouses.entries()) {
      expect(items.filter((l) => l.sku === sku && l.locationId === wh).map((l) => [l.condition, l.onHand])).toEqual([['new', i + 1], ['used', i + 1]]);
    }

    // The default page (20) is not the whole list: nextCursor says there is more.
    const first = await http().get('/v1/inventory/levels').set(await as());
    expect(first.body.items).toHaveLength(DEFAULT_PAGE_LIMIT);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    expect(first.body.items.map(levelKey)).toEqual(items.slice(0, DEFAULT_PAGE_LIMIT).map(levelKey));
    // At the cap, one page holds all 90.
    const all = await http().get('/v1/inventory/levels').query({ limit: MAX_PAGE_LIMIT }).set(await as());
    expect(all.body.items.map(levelKey)).toEqual(items.map(levelKey));
    expect(all.body.nextCursor).toBeNull();

    const theirs = await pageThrough<Level>('/v1/inventory/levels', { limit: 2 }, other);
    expect(theirs.items.map((l) => [l.sku, l.locationId, l.onHand])).toEqual(SKUS.map((s) => [s, theirLocation, 7]));
  });

  it('pages within the sku and locationId filters', async () => {
    const oneSku = await pageThrough<Level>('/v1/inventory/levels', { sku: 'PG-C', limit: 4 });
    expect(oneSku.items).toHaveLength(LOCATIONS * 2);
    expect(new Set(oneSku.items.map(levelKey)).size).toBe(LOCATIONS * 2);
    expect(oneSku.items.every((l) => l.sku === 'PG-C')).toBe(true);

    const oneLocation = await pageThrough<Level>('/v1/inventory/levels', { locationId: warehouses[3], limit: 3 });
    expect(oneLocation.items.map((l) => `${l.sku}|${l.condition}`)).toEqual(SKUS.flatMap((s) => [`${s}|new`, `${s}|used`]));
    expect(oneLocation.pages).toBe(Math.ceil((SKUS.length * 2) / 3));

    const both = await http().get('/v1/inventory/levels').query({ sku: 'PG-E', locationId: warehouses[0] }).set(await as());
    expect(both.body).toEqual({ items: [expect.objectContaining({ condition: 'new' }), expect.objectContaining({ condition: 'used' })], nextCursor: null });
    // Another tenant's location names no rows here.
    expect((await http().get('/v1/inventory/levels').query({ locationId: theirLocation }).set(await as())).body).toEqual({ items: [], nextCursor: null });
  });
});

describe('bad cursors and limits', () => {
  const cursors: [string, string][] = [
    ['garbage', 'zzz'],
    ['not base64url', 'a+b/c='],
    ['JSON of the wrong shape', encodeCursor({ a: 1 })],
    ['too long', 'A'.repeat(5000)],
    ['a ledger cursor', encodeCursor({ id: randomUUID() })],
    ['a NUL in the sku', encodeCursor({ sku: 'PG-A\u0000', locationId: randomUUID(), condition: 'new' })],
    ['a location id that is no uuid', encodeCursor({ sku: 'PG-A', locationId: 'nope', condition: 'new' })],
    ['an unknown condition', encodeCursor({ sku: 'PG-A', locationId: randomUUID(), condition: 'broken' })],
    ['a fractional priority', encodeCursor({ priority: 1.5, code: 'WH-1' })],
    ['a priority beyond integer', encodeCursor({ priority: 2 ** 40, code: 'WH-1' })],
    ['an empty code', encodeCursor({ priority: 1, code: '' })],
  ];
  const limits = ['0', '-1', '101', '100000000000000000000', '1.5', 'abc', ''];

  it.each(['/v1/inventory/levels', '/v1/inventory/locations'])('%s answers 400 problem+json and nothing else', async (path) => {
    for (const [what, cursor] of cursors) {
      // A cursor of the other list's shape is as foreign as garbage.
      const res = await http().get(path).query({ cursor }).set(await as());
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expectProblem(res, 400);
    }
    for (const limit of limits) {
      const res = await http().get(path).query({ limit }).set(await as());
      expect({ limit, status: res.status }).toEqual({ limit, status: 400 });
      expectProblem(res, 400);
    }
    const foreignShape = path.endsWith('levels') ? encodeCursor({ priority: 1, code: 'WH-1' }) : encodeCursor({ sku: 'PG-A', locationId: randomUUID(), condition: 'new' });
    expectProblem(await http().get(path).query({ cursor: foreignShape }).set(await as()), 400);
    expectProblem(await http().get(path).query({ cursor: 'x', extra: 1 }).set(await as()), 400);
    expectProblem(await http().get(path).query({ limit: 5 }), 401);
  });
});

describe('OpenAPI (merged by the gateway)', () => {
  it('documents cursor and limit on both lists, and nextCursor in their responses', async () => {
    const doc = (await http().get('/openapi.json')).body;
    for (const [path, schema] of [
      ['/v1/inventory/levels', 'LevelListDto'],
      ['/v1/inventory/locations', 'LocationListDto'],
    ]) {
      const get = doc.paths[path].get;
      const params = Object.fromEntries(get.parameters.map((p: { name: string; in: string; schema: Record<string, unknown> }) => [p.name, p]));
      expect(params.cursor).toMatchObject({ in: 'query', required: false });
      expect(params.limit).toMatchObject({ in: 'query', required: false, schema: { minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT } });
      expect(get.responses['400']).toBeDefined();
      expect(get.responses['200'].content['application/json'].schema.$ref).toBe(`#/components/schemas/${schema}`);
      expect(doc.components.schemas[schema].required).toEqual(expect.arrayContaining(['items', 'nextCursor']));
      expect(doc.components.schemas[schema].properties.nextCursor).toMatchObject({ type: 'string', nullable: true });
    }
    const levelParams = doc.paths['/v1/inventory/levels'].get.parameters.map((p: { name: string }) => p.name).sort();
    expect(levelParams).toEqual(['cursor', 'limit', 'locationId', 'sku']);
    const create = doc.paths['/v1/inventory/locations'].post.responses;
    expect(Object.keys(create)).toEqual(expect.arrayContaining(['201', '409', '422']));
  });
});
