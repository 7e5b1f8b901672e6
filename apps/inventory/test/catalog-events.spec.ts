import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { CatalogEventTypes, CONTEXT_HEADER, topicOf, type ProductEventV1 } from '@tessera/contracts';
import { createEnvelope, ensureMessagingSchema, PostgresTransport } from '@tessera/messaging';
import { runMigrations, runtimeDatabaseUrl } from '@tessera/persistence';
import { loadConfig, signCallerContext } from '@tessera/service-kit';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { Pool } from 'pg';
import request from 'supertest';
import { inventoryConfigSchema } from '../src/config';
import { InventoryDomain } from '../src/domain';
import { startInventory } from '../src/inventory-app';
import { INVENTORY_SCHEMA, inventoryMigrations } from '../src/migrations';
import { catalogVariant, PASSWORD, variantEvent } from './harness';

/* The catalog read model fed by catalog events over the real postgres transport, as the running service is. */

const SECRET = 'inventory-tests-internal-token-secret-0123456789';
let db: TestDatabase;
let app: INestApplication;
let publisher: PostgresTransport;
let admin: Pool;
let domain: InventoryDomain;
const tenant = randomUUID();
let main: string;

beforeAll(async () => {
  db = await createTestDatabase('invcat');
  await ensureMessagingSchema(db.url);
  await runMigrations({ adminUrl: db.url, schema: INVENTORY_SCHEMA, migrations: inventoryMigrations, password: PASSWORD, extraSchemas: ['messaging'] });
  const config = loadConfig(inventoryConfigSchema, { PORT: '0', LOG_LEVEL: 'silent', INTERNAL_TOKEN_SECRET: SECRET });
  const url = runtimeDatabaseUrl(db.url, INVENTORY_SCHEMA, PASSWORD);
  app = await startInventory({ config, databaseUrl: url, handleSignals: false, transport: new PostgresTransport({ url, pollIntervalMs: 50 }) });
  publisher = new PostgresTransport({ url: db.url });
  await publisher.connect();
  admin = new Pool({ connectionString: db.url, max: 2 });
  domain = app.get(InventoryDomain);
  main = (await domain.locations.create(tenant, { code: 'MAIN', name: 'Main' })).id;
});
afterAll(async () => {
  await app?.close();
  await publisher?.close();
  await admin?.end();
  await db?.drop();
});

async function receive(sku: string, quantity = 3): Promise<request.Response> {
  const token = await signCallerContext(
    { requestId: randomUUID(), tenantId: tenant, principalId: randomUUID(), principalType: 'user', roles: ['staff'], scopes: [] },
    SECRET,
    60,
  );
  return request(app.getHttpServer()).post('/v1/inventory/movements').set({ [CONTEXT_HEADER]: token }).send({ type: 'receive', sku, locationId: main, quantity });
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('catalog events → inventory (postgres transport)', () => {
  it('a SKU answers 422 until its catalog.variant.created arrives on tessera.catalog.events, then 201', async () => {
    const early = await receive('CAT-1');
    expect(early.status).toBe(422);
    expect(early.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(early.body).toMatchObject({ reason: 'unknown_sku', sku: 'CAT-1' });

    const variant = catalogVariant(tenant, 'CAT-1');
    const product: ProductEventV1 = {
      tenantId: tenant,
      productId: variant.productId,
      vendorId: null,
      title: 'Brick',
      status: 'active',
      version: 1,
      occurredAt: variant.occurredAt,
    };
    // As catalog publishes them: the product, then its variant, on the product's key; the variant delivered twice.
    const created = variantEvent(variant);
    await publisher.publish(topicOf('catalog'), [
      createEnvelope({ source: 'catalog', type: CatalogEventTypes.ProductCreated, subject: product.productId, tenantId: tenant, data: product }),
      created,
      created,
    ]);
    const res = await eventually(() => receive('CAT-1'), (r) => r.status !== 422);
    expect(res.status).toBe(201);
    expect(res.body.levels).toEqual([expect.objectContaining({ sku: 'CAT-1', onHand: 3 })]);
    const rows = await admin.query(`SELECT sku, version FROM inventory.catalog_variants WHERE tenant_id = $1`, [tenant]);
    expect(rows.rows).toEqual([{ sku: 'CAT-1', version: 1 }]);
    // Product events have no handler here: acknowledged, no inbox row.
    const processed = await admin.query(`SELECT event_id FROM inventory.processed_events WHERE tenant_id = $1`, [tenant]);
    expect(processed.rows).toEqual([{ event_id: created.id }]);
  });

  it('a late older version published after a newer one leaves the newer SKU in place', async () => {
    const v1 = catalogVariant(tenant, 'CAT-OLD');
    await publisher.publish(topicOf('catalog'), [variantEvent({ ...v1, sku: 'CAT-NEW', version: 2 }), variantEvent(v1)]);
    const known = await eventually(
      () => admin.query(`SELECT count(*)::int AS n FROM inventory.processed_events WHERE tenant_id = $1`, [tenant]).then((r) => r.rows[0].n as number),
      (n) => n === 3,
    );
    expect(known).toBe(3);
    expect((await admin.query(`SELECT sku, version FROM inventory.catalog_variants WHERE variant_id = $1`, [v1.variantId])).rows).toEqual([{ sku: 'CAT-NEW', version: 2 }]);
    expect((await receive('CAT-OLD')).status).toBe(422);
    expect((await receive('CAT-NEW')).status).toBe(201);
  });

  it('a variant event whose times PostgreSQL could not read is applied with the time it arrived, not retried forever', async () => {
    const variant = { ...catalogVariant(tenant, 'CAT-TIME'), occurredAt: '1' };
    await publisher.publish(topicOf('catalog'), [{ ...variantEvent(variant), time: 'yesterday' }]);
    const res = await eventually(() => receive('CAT-TIME'), (r) => r.status !== 422);
    expect(res.status).toBe(201);
  });
});
