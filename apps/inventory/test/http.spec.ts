import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { CONTEXT_HEADER, type Role } from '@tessera/contracts';
import { ensureMessagingSchema } from '@tessera/messaging';
import { runMigrations, runtimeDatabaseUrl } from '@tessera/persistence';
import { encodeCursor, loadConfig, signCallerContext } from '@tessera/service-kit';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import request from 'supertest';
import { inventoryConfigSchema } from '../src/config';
import { InventoryDomain } from '../src/domain';
import { startInventory } from '../src/inventory-app';
import { INVENTORY_SCHEMA, inventoryMigrations } from '../src/migrations';
import { announceSkus, PASSWORD } from './harness';

const SECRET = 'inventory-tests-internal-token-secret-0123456789';
let db: TestDatabase;
let app: INestApplication;
const tenant = randomUUID();
const other = randomUUID();

beforeAll(async () => {
  db = await createTestDatabase('invhttp');
  await ensureMessagingSchema(db.url);
  await runMigrations({ adminUrl: db.url, schema: INVENTORY_SCHEMA, migrations: inventoryMigrations, password: PASSWORD, extraSchemas: ['messaging'] });
  const config = loadConfig(inventoryConfigSchema, { PORT: '0', LOG_LEVEL: 'silent', INTERNAL_TOKEN_SECRET: SECRET });
  app = await startInventory({ config, databaseUrl: runtimeDatabaseUrl(db.url, INVENTORY_SCHEMA, PASSWORD), handleSignals: false });
  // The SKUs these tests move, as the tenants' catalogs announced them (catalog.variant.created through the inbox).
  await announceSkus(app, tenant, 'SKU-1', 'SKU-2', 'SKU-CURSOR');
  await announceSkus(app, other, 'SKU-1', 'SKU-2');
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

const http = () => request(app.getHttpServer());
async function as(role: Role, tenantId = tenant): Promise<Record<string, string>> {
  const token = await signCallerContext(
    { requestId: randomUUID(), tenantId, principalId: randomUUID(), principalType: 'user', roles: [role], scopes: [] },
    SECRET,
    60,
  );
  return { [CONTEXT_HEADER]: token };
}
async function asKey(scopes: string[], tenantId = tenant): Promise<Record<string, string>> {
  const token = await signCallerContext(
    { requestId: randomUUID(), tenantId, principalId: randomUUID(), principalType: 'api_key', roles: [], scopes },
    SECRET,
    60,
  );
  return { [CONTEXT_HEADER]: token };
}
function expectProblem(res: request.Response, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
}

let main: string;
let backup: string;

describe('locations', () => {
  it('creates and lists locations; a duplicate code is 409', async () => {
    const created = await http().post('/v1/inventory/locations').set(await as('owner')).send({ code: 'MAIN', name: 'Main', priority: 1 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ code: 'MAIN', name: 'Main', priority: 1, type: 'warehouse', parentId: null });
    main = created.body.id;
    backup = (await http().post('/v1/inventory/locations').set(await as('admin')).send({ code: 'BACKUP', name: 'Backup', priority: 2 })).body.id;
    const bin = await http().post('/v1/inventory/locations').set(await as('owner')).send({ code: 'MAIN-A1', name: 'A1', parentId: main, type: 'bin', pickSequence: 4 });
    expect(bin.status).toBe(201);
    const taken = await http().post('/v1/inventory/locations').set(await as('owner')).send({ code: 'MAIN', name: 'again' });
    expectProblem(taken, 409);
    // The location's code is its own member: `code` is the problem's code.
    expect(taken.body).toMatchObject({ code: 'conflict', reason: 'location_code_taken', locationCode: 'MAIN' });
    const list = await http().get('/v1/inventory/locations').set(await as('viewer'));
    expect(list.status).toBe(200);
    expect(list.body.items.map((l: { code: string }) => l.code)).toEqual(['MAIN', 'BACKUP', 'MAIN-A1']);
    expect((await http().get('/v1/inventory/locations').set(await as('owner', other))).body.items).toEqual([]);
  });

  it('refuses bad input, unknown fields, another tenant parent, missing roles and missing context', async () => {
    const bad = [
      { code: '', name: 'x' },
      { code: 'has space', name: 'x' },
      { code: 'OK', name: '' },
      // 201 code points, as the name's CHECK counts them (class-validator's MaxLength would count 101)
      { code: 'OK', name: 'x' + '❤️'.repeat(100) },
      { code: 'OK', name: 'x', priority: -1 },
      { code: 'OK', name: 'x', type: 'shelf' },
      { code: 'OK', name: 'x', color: 'red' },
      { code: 'OK', name: 'x', parentId: 'not-a-uuid' },
    ];
    for (const body of bad) expectProblem(await http().post('/v1/inventory/locations').set(await as('owner')).send(body), 400);
    const foreignParent = await http().post('/v1/inventory/locations').set(await as('owner', other)).send({ code: 'X', name: 'x', parentId: main });
    expectProblem(foreignParent, 422);
    expect(foreignParent.body).toMatchObject({ reason: 'unknown_location', locationId: main });
    expectProblem(await http().post('/v1/inventory/locations').set(await as('viewer')).send({ code: 'V', name: 'v' }), 403);
    expectProblem(await http().get('/v1/inventory/locations'), 401);
    expect((await http().get('/v1/inventory/locations').set(await as('owner'))).body.items).toHaveLength(3);
  });

  it('keeps the hierarchy: a bin needs a warehouse parent, nothing sits in a bin (422/404 problem+json, nothing created)', async () => {
    const list = async (tenantId = tenant) => (await http().get('/v1/inventory/locations').query({ limit: 100 }).set(await as('viewer', tenantId))).body.items;
    const bin = (await list()).find((l: { code: string }) => l.code === 'MAIN-A1').id as string;
    const theirs = (await http().post('/v1/inventory/locations').set(await as('owner', other)).send({ code: 'THEIR-WH', name: 'Theirs' })).body.id as string;
    const before = await list();
    const theirsBefore = await list(other);
    const cases: [string, Record<string, unknown>, number, string?][] = [
      ['a bin without a parent', { code: 'LOOSE-BIN', name: 'x', type: 'bin' }, 422, 'parent_required'],
      ['a bin in a bin', { code: 'BIN-IN-BIN', name: 'x', type: 'bin', parentId: bin }, 422, 'invalid_parent'],
      ['a warehouse in a bin', { code: 'WH-IN-BIN', name: 'x', type: 'warehouse', parentId: bin }, 422, 'invalid_parent'],
      ['a warehouse (the default type) in a bin', { code: 'WH-IN-BIN-2', name: 'x', parentId: bin }, 422, 'invalid_parent'],
      ["a bin in another tenant's warehouse", { code: 'BIN-THEIRS', name: 'x', type: 'bin', parentId: theirs }, 422, 'unknown_location'],
      ['a bin in a location that does not exist', { code: 'BIN-NOWHERE', name: 'x', type: 'bin', parentId: randomUUID() }, 422, 'unknown_location'],
      ['a location naming its own id', { code: 'SELF', name: 'x', id: main, parentId: main }, 400],
    ];
    for (const [what, body, status, reason] of cases) {
      const res = await http().post('/v1/inventory/locations').set(await as('owner')).set('Idempotency-Key', `hier-${body.code}`).send(body);
      expect({ what, status: res.status }).toEqual({ what, status });
      expectProblem(res, status);
      if (reason) expect({ what, reason: res.body.reason }).toEqual({ what, reason });
      expect(typeof res.body.detail === 'string' && res.body.detail.length > 0).toBe(true);
    }
    const binInBin = await http().post('/v1/inventory/locations').set(await as('owner')).send({ code: 'BIN-IN-BIN', name: 'x', type: 'bin', parentId: bin });
    expect(binInBin.body).toMatchObject({ reason: 'invalid_parent', locationType: 'bin', parentType: 'bin', parentId: bin, status: 422, type: expect.stringMatching(/unprocessable/) });
    expect(await list()).toEqual(before);
    expect(await list(other)).toEqual(theirsBefore);

    // A refusal frees its Idempotency-Key; a warehouse may sit in a warehouse (a zone of a site), a bin in either.
    const zone = await http().post('/v1/inventory/locations').set(await as('owner')).set('Idempotency-Key', 'hier-WH-IN-BIN').send({ code: 'MAIN-Z1', name: 'Zone 1', parentId: main });
    expect(zone.status).toBe(201);
    expect(zone.body).toMatchObject({ type: 'warehouse', parentId: main });
    const zoneBin = await http().post('/v1/inventory/locations').set(await as('owner')).send({ code: 'MAIN-Z1-B1', name: 'B1', type: 'bin', parentId: zone.body.id });
    expect(zoneBin.status).toBe(201);
    expect(zoneBin.body).toMatchObject({ type: 'bin', parentId: zone.body.id });
  });
});

describe('movements, levels and ledger', () => {
  it('receives, adjusts and transfers; levels and ledger show it', async () => {
    const received = await http().post('/v1/inventory/movements').set(await as('staff')).send({ type: 'receive', sku: 'SKU-1', locationId: main, quantity: 10 });
    expect(received.status).toBe(201);
    expect(received.body.levels).toEqual([
      { sku: 'SKU-1', locationId: main, condition: 'new', onHand: 10, reserved: 0, available: 10, reorderPoint: 0, reorderQuantity: 0 },
    ]);
    expect((await http().post('/v1/inventory/movements').set(await as('staff')).send({ type: 'adjust', sku: 'SKU-1', locationId: main, quantity: -1, reason: 'damage' })).status).toBe(201);
    expect((await http().post('/v1/inventory/movements').set(await as('manager')).send({ type: 'transfer', sku: 'SKU-1', locationId: main, toLocationId: backup, quantity: 4 })).status).toBe(201);
    const levels = await http().get('/v1/inventory/levels').query({ sku: 'SKU-1' }).set(await as('viewer'));
    expect(levels.body.items.map((l: { locationId: string; onHand: number; available: number }) => [l.locationId === main ? 'main' : 'backup', l.onHand, l.available]).sort()).toEqual([
      ['backup', 4, 4],
      ['main', 5, 5],
    ]);
    const atMain = await http().get('/v1/inventory/levels').query({ locationId: main }).set(await as('viewer'));
    expect(atMain.body.items).toHaveLength(1);
    const page1 = await http().get('/v1/inventory/ledger').query({ sku: 'SKU-1', limit: 2 }).set(await as('viewer'));
    expect(page1.status).toBe(200);
    expect(page1.body.items.map((i: { type: string; delta: number }) => [i.type, i.delta])).toEqual([['transfer_in', 4], ['transfer_out', -4]]);
    expect(page1.body.items[0]).toMatchObject({ before: 0, after: 4, reason: null });
    expect(page1.body.items[0].actor).toMatch(/^user:/);
    const page2 = await http().get('/v1/inventory/ledger').query({ sku: 'SKU-1', limit: 2, cursor: page1.body.nextCursor }).set(await as('viewer'));
    expect(page2.body.items.map((i: { type: string; reason: string | null }) => [i.type, i.reason])).toEqual([['adjust', 'damage'], ['receive', null]]);
    expect(page2.body.nextCursor).toBeNull();
  });

  it("names a ledger page's last row in its cursor, not the sequence every tenant shares, and refuses another tenant's", async () => {
    const location = await http().post('/v1/inventory/locations').set(await as('manager')).send({ code: 'CURSOR-WH', name: 'Cursor' });
    for (const quantity of [1, 2]) {
      expect((await http().post('/v1/inventory/movements').set(await as('staff')).send({ type: 'receive', sku: 'SKU-CURSOR', locationId: location.body.id, quantity })).status).toBe(201);
    }
    const page = await http().get('/v1/inventory/ledger').query({ sku: 'SKU-CURSOR', limit: 1 }).set(await as('viewer'));
    expect(page.status).toBe(200);
    expect(JSON.parse(Buffer.from(page.body.nextCursor, 'base64url').toString('utf8'))).toEqual({ id: page.body.items[0].id });
    const res = await http().get('/v1/inventory/ledger').query({ cursor: page.body.nextCursor }).set(await as('viewer', randomUUID()));
    expectProblem(res, 400);
  });

  it('409 and nothing changes when on hand would go below zero', async () => {
    const res = await http().post('/v1/inventory/movements').set(await as('staff')).send({ type: 'adjust', sku: 'SKU-1', locationId: main, quantity: -6, reason: 'loss' });
    expectProblem(res, 409);
    expect(res.body.reason).toBe('insufficient_stock');
    const transfer = await http().post('/v1/inventory/movements').set(await as('staff')).send({ type: 'transfer', sku: 'SKU-1', locationId: backup, toLocationId: main, quantity: 5 });
    expectProblem(transfer, 409);
    const levels = await http().get('/v1/inventory/levels').query({ sku: 'SKU-1' }).set(await as('viewer'));
    expect(levels.body.items.map((l: { onHand: number }) => l.onHand).sort()).toEqual([4, 5]);
    const ledger = await http().get('/v1/inventory/ledger').query({ sku: 'SKU-1' }).set(await as('viewer'));
    expect(ledger.body.items).toHaveLength(4);
  });

  it('bad movements get a clear 4xx and change nothing', async () => {
    const h = await as('staff');
    const cases: [Record<string, unknown>, number][] = [
      [{ type: 'receive', sku: 'SKU-2', locationId: main, quantity: 0 }, 422],
      [{ type: 'receive', sku: 'SKU-2', locationId: main, quantity: -5 }, 422],
      [{ type: 'receive', sku: 'SKU-2', locationId: main, quantity: 1e12 }, 400],
      [{ type: 'receive', sku: 'SKU-2', locationId: main, quantity: 1.5 }, 400],
      [{ type: 'receive', sku: 'SKU-2', locationId: main, quantity: '3' }, 400],
      [{ type: 'adjust', sku: 'SKU-2', locationId: main, quantity: 0, reason: 'count' }, 422],
      [{ type: 'adjust', sku: 'SKU-2', locationId: main, quantity: 2 }, 400],
      [{ type: 'adjust', sku: 'SKU-2', locationId: main, quantity: 2, reason: 'theft' }, 400],
      [{ type: 'transfer', sku: 'SKU-2', locationId: main, quantity: 2 }, 400],
      [{ type: 'transfer', sku: 'SKU-2', locationId: main, toLocationId: main, quantity: 2 }, 422],
      [{ type: 'receive', sku: 'SKU-2', locationId: main, toLocationId: backup, quantity: 2 }, 422],
      [{ type: 'receive', sku: 'SKU-2', locationId: main, quantity: 2, reason: 'found' }, 422],
      [{ type: 'steal', sku: 'SKU-2', locationId: main, quantity: 2 }, 400],
      [{ type: 'receive', sku: ' SKU-2', locationId: main, quantity: 2 }, 400],
      [{ type: 'receive', sku: 'SKU-2', locationId: main, quantity: 2, condition: 'broken' }, 400],
      [{ type: 'receive', sku: 'SKU-2', locationId: main, quantity: 2, extra: true }, 400],
      [{ type: 'receive', sku: 'SKU-2', locationId: randomUUID(), quantity: 2 }, 422],
      [{ type: 'transfer', sku: 'SKU-2', locationId: main, toLocationId: randomUUID(), quantity: 2 }, 422],
    ];
    for (const [body, status] of cases) {
      const res = await http().post('/v1/inventory/movements').set(h).send(body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expectProblem(res, status);
    }
    // Another tenant's location id is unknown here.
    const foreign = await http().post('/v1/inventory/movements').set(await as('owner', other)).send({ type: 'receive', sku: 'SKU-2', locationId: main, quantity: 2 });
    expectProblem(foreign, 422);
    expect(foreign.body).toMatchObject({ reason: 'unknown_location', locationId: main });
    // A transfer's target that is not the tenant's is named as such, not its source.
    const nowhere = randomUUID();
    const transfer = await http().post('/v1/inventory/movements').set(h).send({ type: 'transfer', sku: 'SKU-2', locationId: main, toLocationId: nowhere, quantity: 1 });
    expectProblem(transfer, 422);
    expect(transfer.body).toMatchObject({ reason: 'unknown_location', locationId: nowhere });
    expectProblem(await http().post('/v1/inventory/movements').set(await as('viewer')).send({ type: 'receive', sku: 'SKU-2', locationId: main, quantity: 2 }), 403);
    expect((await http().get('/v1/inventory/levels').query({ sku: 'SKU-2' }).set(await as('viewer'))).body.items).toEqual([]);
  });

  it("refuses (422, naming it) a SKU the tenant's catalog does not have, and changes nothing", async () => {
    const ledgerBefore = (await http().get('/v1/inventory/ledger').set(await as('viewer'))).body.items;
    const unknown = await http().post('/v1/inventory/movements').set(await as('staff')).send({ type: 'receive', sku: 'NO-SUCH-SKU', locationId: main, quantity: 2 });
    expectProblem(unknown, 422);
    expect(unknown.body).toMatchObject({ status: 422, reason: 'unknown_sku', sku: 'NO-SUCH-SKU' });
    expect(unknown.body.detail).toContain('NO-SUCH-SKU');
    // Adjust and transfer (and reorder policies) would create its stock row just the same.
    for (const body of [
      { type: 'adjust', sku: 'NO-SUCH-SKU', locationId: main, quantity: 3, reason: 'found' },
      { type: 'transfer', sku: 'NO-SUCH-SKU', locationId: main, toLocationId: backup, quantity: 1 },
    ]) {
      const res = await http().post('/v1/inventory/movements').set(await as('staff')).send(body);
      expectProblem(res, 422);
      expect(res.body.reason).toBe('unknown_sku');
    }
    const policy = await http().put('/v1/inventory/reorder-policies').set(await as('manager')).send({ sku: 'NO-SUCH-SKU', locationId: main, reorderPoint: 1, reorderQuantity: 5 });
    expectProblem(policy, 422);
    expect(policy.body).toMatchObject({ reason: 'unknown_sku', sku: 'NO-SUCH-SKU' });

    // Another tenant's SKU is as unknown here as one that exists nowhere.
    await announceSkus(app, tenant, 'ONLY-MINE');
    const theirLocation = (await http().post('/v1/inventory/locations').set(await as('owner', other)).send({ code: 'THEIRS', name: 'Theirs' })).body.id;
    const foreign = await http().post('/v1/inventory/movements').set(await as('staff', other)).send({ type: 'receive', sku: 'ONLY-MINE', locationId: theirLocation, quantity: 2 });
    expectProblem(foreign, 422);
    expect(foreign.body).toMatchObject({ reason: 'unknown_sku', sku: 'ONLY-MINE' });

    for (const sku of ['NO-SUCH-SKU', 'ONLY-MINE']) {
      expect((await http().get('/v1/inventory/levels').query({ sku }).set(await as('viewer'))).body.items).toEqual([]);
      expect((await http().get('/v1/inventory/levels').query({ sku }).set(await as('viewer', other))).body.items).toEqual([]);
    }
    expect((await http().get('/v1/inventory/ledger').set(await as('viewer'))).body.items).toEqual(ledgerBefore);
    expect((await http().get('/v1/inventory/ledger').set(await as('viewer', other))).body.items).toEqual([]);

    // Once the catalog event has arrived, the same request succeeds.
    await announceSkus(app, tenant, 'NO-SUCH-SKU');
    const later = await http().post('/v1/inventory/movements').set(await as('staff')).send({ type: 'receive', sku: 'NO-SUCH-SKU', locationId: main, quantity: 2 });
    expect(later.status).toBe(201);
    expect(later.body.levels).toEqual([expect.objectContaining({ sku: 'NO-SUCH-SKU', onHand: 2 })]);
  });

  it('refuses bad queries', async () => {
    expectProblem(await http().get('/v1/inventory/levels').query({ locationId: 'nope' }).set(await as('viewer')), 400);
    // Garbage, the old numeric cursors, an id that is no uuid, a row that does not exist: 400, not a failed cast.
    for (const cursor of ['abc', '12345', '9223372036854775808', encodeCursor({ id: 'nope' }), encodeCursor({ id: randomUUID() }), encodeCursor({ seq: 5 })]) {
      expectProblem(await http().get('/v1/inventory/ledger').query({ cursor }).set(await as('viewer')), 400);
    }
    expectProblem(await http().get('/v1/inventory/ledger').query({ limit: 0 }).set(await as('viewer')), 400);
    expectProblem(await http().get('/v1/inventory/ledger').query({ limit: 100000 }).set(await as('viewer')), 400);
  });
});

describe('who may read', () => {
  const READS = ['/v1/inventory/levels', '/v1/inventory/ledger', '/v1/inventory/locations', '/v1/inventory/hot-skus', '/v1/inventory/settings'];

  it('lets every staff role and inventory:read keys read; not a customer (client) nor a key for something else', async () => {
    for (const path of READS) {
      for (const role of ['viewer', 'picker', 'staff', 'owner'] as const) expect([path, role, (await http().get(path).set(await as(role))).status]).toEqual([path, role, 200]);
      expect([path, (await http().get(path).set(await asKey(['inventory:read']))).status]).toEqual([path, 200]);
      expectProblem(await http().get(path).set(await as('client')), 403);
      expectProblem(await http().get(path).set(await asKey(['orders:read', 'billing:read'])), 403);
    }
  });
});

describe('staff controls', () => {
  it('flags and unflags hot SKUs', async () => {
    expect((await http().post('/v1/inventory/hot-skus').set(await as('manager')).send({ sku: 'FLASH-1', ttlSeconds: 600 })).status).toBe(204);
    expect((await http().post('/v1/inventory/hot-skus').set(await as('manager')).send({ sku: 'FLASH-2' })).status).toBe(204);
    const list = await http().get('/v1/inventory/hot-skus').set(await as('viewer'));
    expect(list.body.items.map((i: { sku: string; source: string; expiresAt: string | null }) => [i.sku, i.source, i.expiresAt === null])).toEqual([
      ['FLASH-1', 'staff', false],
      ['FLASH-2', 'staff', true],
    ]);
    expect((await http().delete('/v1/inventory/hot-skus/FLASH-1').set(await as('manager'))).status).toBe(204);
    expect((await http().get('/v1/inventory/hot-skus').set(await as('viewer'))).body.items).toHaveLength(1);
    expect((await http().get('/v1/inventory/hot-skus').set(await as('viewer', other))).body.items).toEqual([]);
    expectProblem(await http().post('/v1/inventory/hot-skus').set(await as('staff')).send({ sku: 'FLASH-3' }), 403);
    expectProblem(await http().post('/v1/inventory/hot-skus').set(await as('manager')).send({ sku: 'FLASH-3', ttlSeconds: 0 }), 400);
    expectProblem(await http().post('/v1/inventory/hot-skus').set(await as('manager')).send({}), 400);
    // A SKU with a slash is removed by query, the path cannot name it.
    expect((await http().post('/v1/inventory/hot-skus').set(await as('manager')).send({ sku: 'BRK/RED' })).status).toBe(204);
    expect((await http().delete('/v1/inventory/hot-skus').query({ sku: 'BRK/RED' }).set(await as('manager'))).status).toBe(204);
    expect((await http().get('/v1/inventory/hot-skus').set(await as('viewer'))).body.items.map((i: { sku: string }) => i.sku)).toEqual(['FLASH-2']);
    const flagged = (await http().get('/v1/inventory/hot-skus').set(await as('viewer'))).body.items;
    expectProblem(await http().delete('/v1/inventory/hot-skus').set(await as('manager')), 400);
    expectProblem(await http().delete('/v1/inventory/hot-skus').query({ sku: 'FLASH-2', extra: 'x' }).set(await as('manager')), 400);
    expectProblem(await http().delete('/v1/inventory/hot-skus').query({ sku: 'FLASH-2'.padEnd(129, 'x') }).set(await as('manager')), 400);
    expectProblem(await http().delete('/v1/inventory/hot-skus').query({ sku: 'FLASH-2' }).set(await as('staff')), 403);
    expect((await http().get('/v1/inventory/hot-skus').set(await as('viewer'))).body.items).toEqual(flagged);
  });

  it('lists hot SKUs a page at a time, every one once, and refuses a cursor or limit it did not give', async () => {
    const pager = randomUUID();
    const skus = Array.from({ length: 7 }, (_, i) => `PAGE-${String(i).padStart(2, '0')}`);
    for (const sku of skus) expect((await http().post('/v1/inventory/hot-skus').set(await as('manager', pager)).send({ sku })).status).toBe(204);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: Record<string, string | number> = cursor ? { limit: 3, cursor } : { limit: 3 };
      const res: request.Response = await http()
        .get('/v1/inventory/hot-skus')
        .query(query)
        .set(await as('viewer', pager));
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.items.map((i: { sku: string }) => i.sku));
      cursor = res.body.nextCursor as string | null;
      pages++;
    } while (cursor);
    expect(seen).toEqual(skus);
    expect(pages).toBe(3);
    expect((await http().get('/v1/inventory/hot-skus').set(await as('viewer', pager))).body).toMatchObject({ nextCursor: null });
    expectProblem(await http().get('/v1/inventory/hot-skus').query({ cursor: 'not-a-cursor' }).set(await as('viewer', pager)), 400);
    expectProblem(await http().get('/v1/inventory/hot-skus').query({ limit: 101 }).set(await as('viewer', pager)), 400);
    expectProblem(await http().get('/v1/inventory/hot-skus').query({ limit: 0 }).set(await as('viewer', pager)), 400);
  });

  const hotSkus = async (tenantId = tenant): Promise<{ sku: string; source: string; expiresAt: string | null }[]> => {
    const res = await http().get('/v1/inventory/hot-skus').set(await as('viewer', tenantId));
    expect(res.status).toBe(200);
    return res.body.items;
  };

  it('refuses a bad flag (400 problem+json) and leaves the flags as they were', async () => {
    const before = await hotSkus();
    expect(before.length).toBeGreaterThan(0);
    const cases: [string, Record<string, unknown>][] = [
      ['an unknown field', { sku: 'FLASH-9', priority: 'high' }],
      ['ttlSeconds as a string', { sku: 'FLASH-9', ttlSeconds: '600' }],
      ['a fractional ttlSeconds', { sku: 'FLASH-9', ttlSeconds: 1.5 }],
      ['ttlSeconds past a week', { sku: 'FLASH-9', ttlSeconds: 604_801 }],
      ['a SKU that is a number', { sku: 9 }],
      ['a SKU over 128 characters', { sku: 'F'.repeat(129) }],
      ['a SKU with surrounding spaces', { sku: ' FLASH-9 ' }],
      ['a re-flag of a flagged SKU with an unknown field', { sku: 'FLASH-2', ttlSeconds: 60, extra: true }],
    ];
    for (const [what, body] of cases) {
      const res = await http().post('/v1/inventory/hot-skus').set(await as('manager')).send(body);
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expectProblem(res, 400);
    }
    expect(await hotSkus()).toEqual(before);
  });

  it('unflags by path: 204, only for roles and keys that may write, only this tenant\'s flag, and a malformed SKU is 400', async () => {
    for (const t of [tenant, other]) expect((await http().post('/v1/inventory/hot-skus').set(await as('owner', t)).send({ sku: 'PATH-1' })).status).toBe(204);
    const mine = await hotSkus();
    const theirs = await hotSkus(other);
    expect(mine.map((i) => i.sku)).toContain('PATH-1');
    expect(theirs.map((i) => i.sku)).toContain('PATH-1');

    for (const role of ['staff', 'sales', 'project_manager', 'picker', 'viewer', 'client'] as const) {
      const res = await http().delete('/v1/inventory/hot-skus/PATH-1').set(await as(role));
      expect({ role, status: res.status }).toEqual({ role, status: 403 });
      expectProblem(res, 403);
    }
    for (const scopes of [['inventory:read'], ['orders:write']]) {
      expectProblem(await http().delete('/v1/inventory/hot-skus/PATH-1').set(await asKey(scopes)), 403);
    }
    for (const sku of ['P'.repeat(129), '%20PATH-1', 'PATH-1%20']) {
      const res = await http().delete(`/v1/inventory/hot-skus/${sku}`).set(await as('manager'));
      expect({ sku, status: res.status }).toEqual({ sku, status: 400 });
      expectProblem(res, 400);
    }
    expect(await hotSkus()).toEqual(mine);

    expect((await http().delete('/v1/inventory/hot-skus/PATH-1').set(await as('admin'))).status).toBe(204);
    expect(await hotSkus()).toEqual(mine.filter((i) => i.sku !== 'PATH-1'));
    // The other tenant's flag for the same SKU is its own.
    expect(await hotSkus(other)).toEqual(theirs);
    // Removing a flag that is not there leaves the same state.
    expect((await http().delete('/v1/inventory/hot-skus/PATH-1').set(await asKey(['inventory:write']))).status).toBe(204);
    expect(await hotSkus()).toEqual(mine.filter((i) => i.sku !== 'PATH-1'));
  });

  it('documents the SKU of DELETE /v1/inventory/hot-skus/{sku} as the query form does', async () => {
    const doc = (await http().get('/openapi.json')).body;
    const byPath = doc.paths['/v1/inventory/hot-skus/{sku}'].delete.parameters.find((p: { name: string }) => p.name === 'sku');
    const byQuery = doc.paths['/v1/inventory/hot-skus'].delete.parameters.find((p: { name: string }) => p.name === 'sku');
    expect(byPath).toMatchObject({ in: 'path', required: true, schema: { type: 'string', maxLength: 128 } });
    expect(byQuery).toMatchObject({ in: 'query', required: true, schema: { type: 'string', maxLength: 128 } });
  });

  it('sets the reservation TTL and reorder policies', async () => {
    const defaults = { reservationTtlSeconds: 900, cashOnDeliveryTtlSeconds: 1_209_600 };
    expect((await http().get('/v1/inventory/settings').set(await as('viewer'))).body).toEqual(defaults);
    const ttl = await http().put('/v1/inventory/settings').set(await as('owner')).send({ reservationTtlSeconds: 600 });
    expect(ttl.status).toBe(200);
    expect(ttl.body).toEqual({ ...defaults, reservationTtlSeconds: 600 });
    const cod = await http().put('/v1/inventory/settings').set(await as('admin')).send({ cashOnDeliveryTtlSeconds: 259_200 });
    expect(cod.body).toEqual({ reservationTtlSeconds: 600, cashOnDeliveryTtlSeconds: 259_200 });
    expectProblem(await http().put('/v1/inventory/settings').set(await as('owner')).send({}), 422);
    for (const bad of [
      { reservationTtlSeconds: 0 },
      { reservationTtlSeconds: 604_801 },
      { cashOnDeliveryTtlSeconds: 7_776_001 },
      { cashOnDeliveryTtlSeconds: '3600' },
      { cashOnDeliveryTtlSeconds: null },
      { reservationTtlSeconds: 60, holdForever: true },
    ]) {
      expectProblem(await http().put('/v1/inventory/settings').set(await as('owner')).send(bad), 400);
    }
    expectProblem(await http().put('/v1/inventory/settings').set(await as('staff')).send({ reservationTtlSeconds: 60 }), 403);
    // Nothing above changed them, and another tenant still has the defaults.
    expect((await http().get('/v1/inventory/settings').set(await as('viewer'))).body).toEqual({ reservationTtlSeconds: 600, cashOnDeliveryTtlSeconds: 259_200 });
    expect((await http().get('/v1/inventory/settings').set(await as('viewer', other))).body).toEqual(defaults);
    const policy = await http().put('/v1/inventory/reorder-policies').set(await as('manager')).send({ sku: 'SKU-1', locationId: main, reorderPoint: 3, reorderQuantity: 20 });
    expect(policy.status).toBe(200);
    expect(policy.body).toMatchObject({ sku: 'SKU-1', locationId: main, onHand: 5, reorderPoint: 3, reorderQuantity: 20 });
    expectProblem(await http().put('/v1/inventory/reorder-policies').set(await as('manager')).send({ sku: 'SKU-1', locationId: main, reorderPoint: -1, reorderQuantity: 0 }), 400);
    const foreignPolicy = await http().put('/v1/inventory/reorder-policies').set(await as('owner', other)).send({ sku: 'SKU-1', locationId: main, reorderPoint: 1, reorderQuantity: 1 });
    expectProblem(foreignPolicy, 422);
    expect(foreignPolicy.body).toMatchObject({ reason: 'unknown_location', locationId: main });
  });

  it('refuses bad reorder policies and callers without rights (4xx problem+json), and the levels stay as they were', async () => {
    const levels = async (tenantId = tenant) => {
      const res = await http().get('/v1/inventory/levels').query({ sku: 'SKU-1' }).set(await as('viewer', tenantId));
      expect(res.status).toBe(200);
      return res.body.items as { locationId: string; reorderPoint: number; reorderQuantity: number }[];
    };
    const before = await levels();
    expect(before.find((l) => l.locationId === main)).toMatchObject({ reorderPoint: 3, reorderQuantity: 20 });
    const theirsBefore = await levels(other);
    const valid = { sku: 'SKU-1', locationId: main, reorderPoint: 7, reorderQuantity: 40 };
    const cases: [string, Record<string, unknown>][] = [
      ['an unknown field', { ...valid, supplier: 'ACME' }],
      ['reorderPoint as a string', { ...valid, reorderPoint: '7' }],
      ['a fractional reorderQuantity', { ...valid, reorderQuantity: 2.5 }],
      ['reorderQuantity past the maximum', { ...valid, reorderQuantity: 1_000_001 }],
      ['a SKU that is a number', { ...valid, sku: 1 }],
      ['a locationId that is not a UUID', { ...valid, locationId: 'main' }],
      ['an unknown condition', { ...valid, condition: 'broken' }],
      ['a missing reorderQuantity', { sku: 'SKU-1', locationId: main, reorderPoint: 7 }],
      ['a missing locationId', { sku: 'SKU-1', reorderPoint: 7, reorderQuantity: 40 }],
      ['a missing sku', { locationId: main, reorderPoint: 7, reorderQuantity: 40 }],
      ['an empty body', {}],
    ];
    for (const [what, body] of cases) {
      const res = await http().put('/v1/inventory/reorder-policies').set(await as('manager')).send(body);
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expectProblem(res, 400);
    }
    for (const role of ['staff', 'sales', 'project_manager', 'picker', 'viewer', 'client'] as const) {
      const res = await http().put('/v1/inventory/reorder-policies').set(await as(role)).send(valid);
      expect({ role, status: res.status }).toEqual({ role, status: 403 });
      expectProblem(res, 403);
    }
    for (const scopes of [['inventory:read'], ['orders:write', 'billing:write']]) {
      expectProblem(await http().put('/v1/inventory/reorder-policies').set(await asKey(scopes)).send(valid), 403);
    }
    expect(await levels()).toEqual(before);
    expect(await levels(other)).toEqual(theirsBefore);

    // The same request from a caller that may write does change it.
    const res = await http().put('/v1/inventory/reorder-policies').set(await asKey(['inventory:write'])).send(valid);
    expect(res.status).toBe(200);
    expect((await levels()).find((l) => l.locationId === main)).toMatchObject({ reorderPoint: 7, reorderQuantity: 40 });
  });
});

describe('edge input found by review', () => {
  const shop = randomUUID();
  let home: string;
  let away: string;
  const move = async (body: Record<string, unknown>) => http().post('/v1/inventory/movements').set(await as('manager', shop)).send(body);
  const stockLowEvents = async (): Promise<number> => {
    const { Client } = await import('pg');
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const res = await c.query(
        // Distinct ids: the relay deletes a row from the outbox after it is in the log, so it can be in both.
        `SELECT count(DISTINCT id)::int AS n FROM (
           SELECT envelope->>'id' AS id, envelope->>'type' AS type, envelope->>'tenantid' AS tenant FROM messaging.events
           UNION ALL SELECT id::text, type, tenant_id::text FROM inventory.outbox_events) e
          WHERE type = 'inventory.stock.low' AND tenant = $1`,
        [shop],
      );
      return res.rows[0].n;
    } finally {
      await c.end();
    }
  };
  beforeAll(async () => {
    await announceSkus(app, shop, 'EDGE-1');
    home = (await http().post('/v1/inventory/locations').set(await as('owner', shop)).send({ code: 'main', name: 'Main' })).body.id;
    away = (await http().post('/v1/inventory/locations').set(await as('owner', shop)).send({ code: 'Overflow', name: 'Overflow' })).body.id;
    expect((await move({ type: 'receive', sku: 'EDGE-1', locationId: home, quantity: 5 })).status).toBe(201);
  });

  it('takes a location id in upper case as the same location (it was a 500, and a transfer to itself got through)', async () => {
    const received = await move({ type: 'receive', sku: 'EDGE-1', locationId: home.toUpperCase(), quantity: 1 });
    expect(received.status).toBe(201);
    expect(received.body.levels[0]).toMatchObject({ locationId: home, onHand: 6 });
    const itself = await move({ type: 'transfer', sku: 'EDGE-1', locationId: home, toLocationId: home.toUpperCase(), quantity: 1 });
    expectProblem(itself, 422);
    expect(itself.body.reason).toBe('same_location');
    expect((await move({ type: 'adjust', sku: 'EDGE-1', locationId: home, quantity: -1, reason: 'count' })).status).toBe(201);
  });

  it('refuses an adjustment whose reason says the opposite of its quantity', async () => {
    for (const [reason, quantity] of [['damage', 2], ['loss', 1], ['found', -1]] as const) {
      const res = await move({ type: 'adjust', sku: 'EDGE-1', locationId: home, quantity, reason });
      expectProblem(res, 422);
      expect([reason, res.body.reason]).toEqual([reason, 'reason_direction']);
    }
    const levels = await http().get('/v1/inventory/levels').query({ sku: 'EDGE-1' }).set(await as('viewer', shop));
    expect(levels.body.items).toEqual([expect.objectContaining({ locationId: home, onHand: 5 })]);
  });

  it('says the stock is low when a reorder point is raised to what is available, once', async () => {
    const policy = { sku: 'EDGE-1', locationId: home, reorderPoint: 5, reorderQuantity: 10 };
    expect((await http().put('/v1/inventory/reorder-policies').set(await as('manager', shop)).send(policy)).status).toBe(200);
    expect(await stockLowEvents()).toBe(1);
    expect((await http().put('/v1/inventory/reorder-policies').set(await as('manager', shop)).send({ ...policy, reorderPoint: 6 })).status).toBe(200);
    expect(await stockLowEvents()).toBe(1);
  });

  it('lists locations in the order allocation uses them (priority, then code by code units)', async () => {
    const listed = await http().get('/v1/inventory/locations').set(await as('viewer', shop));
    expect(listed.body.items.map((l: { code: string }) => l.code)).toEqual(['Overflow', 'main']);
    expect((await move({ type: 'transfer', sku: 'EDGE-1', locationId: home, toLocationId: away, quantity: 1 })).status).toBe(201);
    // Reservations come from events, not HTTP: through the domain the app runs.
    const reserved = await app.get(InventoryDomain).reservations.reserve(shop, { reference: `edge-${randomUUID()}`, lines: [{ sku: 'EDGE-1', quantity: 1 }] });
    expect(reserved.status).toBe('confirmed');
    const levels = await http().get('/v1/inventory/levels').query({ sku: 'EDGE-1' }).set(await as('viewer', shop));
    expect(levels.body.items.find((l: { locationId: string }) => l.locationId === away)).toMatchObject({ reserved: 1 });
  });

  it('counts a location name in characters, as the table does', async () => {
    const res = await http().post('/v1/inventory/locations').set(await as('owner', shop)).send({ code: 'BRICKS', name: '🧱'.repeat(150) });
    expect(res.status).toBe(201);
    expectProblem(await http().post('/v1/inventory/locations').set(await as('owner', shop)).send({ code: 'BRICKS2', name: '🧱'.repeat(201) }), 400);
  });
});

describe('expectedOnHand: a movement made against what the caller saw', () => {
  const shop = randomUUID();
  let bin: string;
  let shelf: string;
  const move = async (body: Record<string, unknown>) => http().post('/v1/inventory/movements').set(await as('manager', shop)).send(body);
  const state = async () => {
    const levels = await http().get('/v1/inventory/levels').query({ sku: 'COUNT-1' }).set(await as('viewer', shop));
    const ledger = await http().get('/v1/inventory/ledger').query({ sku: 'COUNT-1', limit: 100 }).set(await as('viewer', shop));
    return { levels: levels.body.items, ledger: ledger.body.items.length };
  };
  beforeAll(async () => {
    await announceSkus(app, shop, 'COUNT-1');
    bin = (await http().post('/v1/inventory/locations').set(await as('owner', shop)).send({ code: 'bin-a', name: 'Bin A' })).body.id;
    shelf = (await http().post('/v1/inventory/locations').set(await as('owner', shop)).send({ code: 'shelf-b', name: 'Shelf B' })).body.id;
    expect((await move({ type: 'receive', sku: 'COUNT-1', locationId: bin, quantity: 10, expectedOnHand: 0 })).status).toBe(201);
  });

  it('applies a count when on hand is what the picker saw', async () => {
    const res = await move({ type: 'adjust', reason: 'count', sku: 'COUNT-1', locationId: bin, quantity: -3, expectedOnHand: 10 });
    expect(res.status).toBe(201);
    expect(res.body.levels[0]).toMatchObject({ onHand: 7, available: 7 });
  });

  it('refuses (409 on_hand_changed) a movement when on hand changed since, and changes nothing', async () => {
    const before = await state();
    for (const body of [
      { type: 'adjust', reason: 'count', sku: 'COUNT-1', locationId: bin, quantity: -3, expectedOnHand: 10 },
      { type: 'receive', sku: 'COUNT-1', locationId: bin, quantity: 2, expectedOnHand: 8 },
      // A transfer's expectation is about its source; the destination's on hand (0) does not satisfy it.
      { type: 'transfer', sku: 'COUNT-1', locationId: bin, toLocationId: shelf, quantity: 1, expectedOnHand: 0 },
    ]) {
      const res = await move(body);
      expectProblem(res, 409);
      expect(res.body).toMatchObject({ reason: 'on_hand_changed', expectedOnHand: body.expectedOnHand, onHand: 7, locationId: bin, sku: 'COUNT-1' });
    }
    expect(await state()).toEqual(before);
  });

  it('checks a transfer against its source, on the same location id in any case', async () => {
    const res = await move({ type: 'transfer', sku: 'COUNT-1', locationId: bin.toUpperCase(), toLocationId: shelf, quantity: 2, expectedOnHand: 7 });
    expect(res.status).toBe(201);
    expect(res.body.levels.map((l: { onHand: number }) => l.onHand)).toEqual([5, 2]);
  });

  it('refuses a bad expectedOnHand with 400 and changes nothing', async () => {
    const before = await state();
    for (const expectedOnHand of [-1, 1.5, '5', null, 2147483648, true]) {
      const res = await move({ type: 'adjust', reason: 'count', sku: 'COUNT-1', locationId: bin, quantity: -1, expectedOnHand });
      expect({ expectedOnHand, status: res.status }).toEqual({ expectedOnHand, status: 400 });
      expectProblem(res, 400);
    }
    expect(await state()).toEqual(before);
  });
});
