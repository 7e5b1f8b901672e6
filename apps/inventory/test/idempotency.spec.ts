import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { CONTEXT_HEADER } from '@tessera/contracts';
import { ensureMessagingSchema } from '@tessera/messaging';
import { IdempotencyKeysPurger, runMigrations, runtimeDatabaseUrl } from '@tessera/persistence';
import { loadConfig, signCallerContext } from '@tessera/service-kit';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { Client } from 'pg';
import request from 'supertest';
import { inventoryConfigSchema } from '../src/config';
import { startInventory } from '../src/inventory-app';
import { INVENTORY_SCHEMA, inventoryMigrations } from '../src/migrations';
import { announceSkus, PASSWORD } from './harness';

const SECRET = 'inventory-tests-internal-token-secret-0123456789';
let db: TestDatabase;
let app: INestApplication;
let admin: Client;

beforeAll(async () => {
  db = await createTestDatabase('invidem');
  await ensureMessagingSchema(db.url);
  await runMigrations({ adminUrl: db.url, schema: INVENTORY_SCHEMA, migrations: inventoryMigrations, password: PASSWORD, extraSchemas: ['messaging'] });
  const config = loadConfig(inventoryConfigSchema, { PORT: '0', LOG_LEVEL: 'silent', INTERNAL_TOKEN_SECRET: SECRET });
  app = await startInventory({ config, databaseUrl: runtimeDatabaseUrl(db.url, INVENTORY_SCHEMA, PASSWORD), handleSignals: false });
  admin = new Client({ connectionString: db.url });
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
  await app?.close();
  await db?.drop();
});

async function post(tenantId: string, path: string, body: object, key: string): Promise<request.Response> {
  const token = await signCallerContext(
    { requestId: randomUUID(), tenantId, principalId: randomUUID(), principalType: 'user', roles: ['owner'], scopes: [] },
    SECRET,
    60,
  );
  return request(app.getHttpServer()).post(path).set({ [CONTEXT_HEADER]: token, 'Idempotency-Key': key }).send(body);
}

function expectProblem(res: request.Response, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.status).toBe(status);
}

const count = async (table: string, tenantId: string): Promise<number> =>
  (await admin.query(`SELECT count(*)::int AS n FROM inventory.${table} WHERE tenant_id = $1`, [tenantId])).rows[0].n;

const BAD_KEYS = ['k'.repeat(300), 'has space', 'tab\tkey'];

describe('Idempotency-Key on POST /v1/inventory/locations', () => {
  const tenant = randomUUID();
  const path = '/v1/inventory/locations';

  it('replays the first 201 for the same key and body, creating one location', async () => {
    const first = await post(tenant, path, { code: 'WH-1', name: 'Main' }, 'loc-replay');
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await post(tenant, path, { name: 'Main', code: 'WH-1' }, 'loc-replay');
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await count('locations', tenant)).toBe(1);
  });

  it('answers 422 when the key comes back with another body, and creates nothing', async () => {
    const before = await count('locations', tenant);
    const res = await post(tenant, path, { code: 'WH-2', name: 'Other' }, 'loc-replay');
    expectProblem(res, 422);
    expect(res.body.reason).toBe('idempotency_key_reused');
    expect(await count('locations', tenant)).toBe(before);
  });

  it('refuses a malformed key with 400 and creates nothing', async () => {
    const before = await count('locations', tenant);
    for (const key of BAD_KEYS) expectProblem(await post(tenant, path, { code: 'WH-3', name: 'Bad key' }, key), 400);
    expect(await count('locations', tenant)).toBe(before);
  });

  it('scopes keys to the tenant', async () => {
    const other = randomUUID();
    const theirs = await post(other, path, { code: 'WH-1', name: 'Theirs' }, 'loc-replay');
    expect(theirs.status).toBe(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.body.name).toBe('Theirs');
    expect(await count('locations', other)).toBe(1);
  });

  it('frees the key when the create fails (code taken), so a corrected retry can use it', async () => {
    expectProblem(await post(tenant, path, { code: 'WH-1', name: 'Duplicate' }, 'loc-failed'), 409);
    const corrected = await post(tenant, path, { code: 'WH-9', name: 'Corrected' }, 'loc-failed');
    expect(corrected.status).toBe(201);
    expect(corrected.headers['idempotent-replayed']).toBeUndefined();
  });
});

describe('Idempotency-Key on POST /v1/inventory/movements', () => {
  const tenant = randomUUID();
  const path = '/v1/inventory/movements';
  let locationId: string;

  beforeAll(async () => {
    locationId = (await post(tenant, '/v1/inventory/locations', { code: 'MV', name: 'Movements' }, 'mv-location')).body.id;
    await announceSkus(app, tenant, 'IDEM-1', 'IDEM-2');
  });

  const onHand = async (tenantId: string, sku: string): Promise<number> =>
    (await admin.query(`SELECT coalesce(sum(on_hand), 0)::int AS n FROM inventory.stock_levels WHERE tenant_id = $1 AND sku = $2`, [tenantId, sku])).rows[0].n;

  it('replays the first 201 for the same key and body, moving the stock once', async () => {
    const body = { type: 'receive', sku: 'IDEM-1', locationId, quantity: 5 };
    const first = await post(tenant, path, body, 'mv-replay');
    expect(first.status).toBe(201);
    const again = await post(tenant, path, body, 'mv-replay');
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await onHand(tenant, 'IDEM-1')).toBe(5);
    expect(await count('ledger', tenant)).toBe(1);
  });

  it('answers 422 when the key comes back with another body, and moves nothing', async () => {
    const ledger = await count('ledger', tenant);
    const res = await post(tenant, path, { type: 'receive', sku: 'IDEM-1', locationId, quantity: 6 }, 'mv-replay');
    expectProblem(res, 422);
    expect(res.body.reason).toBe('idempotency_key_reused');
    expect(await onHand(tenant, 'IDEM-1')).toBe(5);
    expect(await count('ledger', tenant)).toBe(ledger);
  });

  it('refuses a malformed key with 400 and moves nothing', async () => {
    const ledger = await count('ledger', tenant);
    for (const key of BAD_KEYS) expectProblem(await post(tenant, path, { type: 'receive', sku: 'IDEM-2', locationId, quantity: 1 }, key), 400);
    expect(await count('ledger', tenant)).toBe(ledger);
  });

  it('scopes keys to the tenant', async () => {
    const other = randomUUID();
    await announceSkus(app, other, 'IDEM-1');
    const theirLocation = (await post(other, '/v1/inventory/locations', { code: 'MV', name: 'Theirs' }, 'mv-location')).body.id;
    const theirs = await post(other, path, { type: 'receive', sku: 'IDEM-1', locationId: theirLocation, quantity: 2 }, 'mv-replay');
    expect(theirs.status).toBe(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(await onHand(other, 'IDEM-1')).toBe(2);
    expect(await onHand(tenant, 'IDEM-1')).toBe(5);
  });

  it('frees the key when the movement is refused (not enough stock), so a corrected retry can use it', async () => {
    const refused = await post(tenant, path, { type: 'adjust', sku: 'IDEM-1', locationId, quantity: -9, reason: 'loss' }, 'mv-failed');
    expectProblem(refused, 409);
    expect(refused.body.reason).toBe('insufficient_stock');
    const corrected = await post(tenant, path, { type: 'adjust', sku: 'IDEM-1', locationId, quantity: -1, reason: 'loss' }, 'mv-failed');
    expect(corrected.status).toBe(201);
    expect(await onHand(tenant, 'IDEM-1')).toBe(4);
  });

  it('frees the key when the SKU is not in the catalog yet, so the same request succeeds once it is', async () => {
    const body = { type: 'receive', sku: 'IDEM-LATE', locationId, quantity: 3 };
    const early = await post(tenant, path, body, 'mv-late');
    expectProblem(early, 422);
    expect(early.body).toMatchObject({ reason: 'unknown_sku', sku: 'IDEM-LATE' });
    expect(await onHand(tenant, 'IDEM-LATE')).toBe(0);
    await announceSkus(app, tenant, 'IDEM-LATE');
    const later = await post(tenant, path, body, 'mv-late');
    expect(later.status).toBe(201);
    expect(later.headers['idempotent-replayed']).toBeUndefined();
    expect(await onHand(tenant, 'IDEM-LATE')).toBe(3);
  });
});

describe('expired Idempotency-Keys', () => {
  it('are purged in the background (the run its timer makes), live ones kept', async () => {
    const tenant = randomUUID();
    for (const [code, key] of [['PURGE-1', 'purge-expired'], ['PURGE-2', 'purge-live']]) {
      expect((await post(tenant, '/v1/inventory/locations', { code, name: code }, key)).status).toBe(201);
    }
    await admin.query(`UPDATE inventory.idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1 AND key = 'purge-expired'`, [tenant]);
    expect(await app.get(IdempotencyKeysPurger).purge()).toBeGreaterThanOrEqual(1);
    const { rows } = await admin.query(`SELECT key FROM inventory.idempotency_keys WHERE tenant_id = $1`, [tenant]);
    expect(rows).toEqual([{ key: 'purge-live' }]);
  });
});
