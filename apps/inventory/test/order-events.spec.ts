import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { OrdersEventTypes, topicOf, type EventEnvelope, type PaymentMethod } from '@tessera/contracts';
import { createEnvelope, ensureMessagingSchema, PostgresTransport } from '@tessera/messaging';
import { runMigrations, runtimeDatabaseUrl } from '@tessera/persistence';
import { loadConfig } from '@tessera/service-kit';
import { createTestDatabase, type TestDatabase } from '@tessera/testing';
import { Pool } from 'pg';
import { inventoryConfigSchema } from '../src/config';
import { InventoryDomain } from '../src/domain';
import { startInventory } from '../src/inventory-app';
import { INVENTORY_SCHEMA, inventoryMigrations } from '../src/migrations';
import { announceSkus, PASSWORD } from './harness';

/* The inventory side of the saga, driven by orders events over the real postgres transport. */

let db: TestDatabase;
let app: INestApplication;
let publisher: PostgresTransport;
let admin: Pool;
let domain: InventoryDomain;
const tenant = randomUUID();
let main: string;

beforeAll(async () => {
  db = await createTestDatabase('invsaga');
  await ensureMessagingSchema(db.url);
  await runMigrations({ adminUrl: db.url, schema: INVENTORY_SCHEMA, migrations: inventoryMigrations, password: PASSWORD, extraSchemas: ['messaging'] });
  const config = loadConfig(inventoryConfigSchema, {
    PORT: '0',
    LOG_LEVEL: 'silent',
    INTERNAL_TOKEN_SECRET: 'inventory-tests-internal-token-secret-0123456789',
  });
  const url = runtimeDatabaseUrl(db.url, INVENTORY_SCHEMA, PASSWORD);
  app = await startInventory({ config, databaseUrl: url, handleSignals: false, transport: new PostgresTransport({ url, pollIntervalMs: 50 }) });
  publisher = new PostgresTransport({ url: db.url });
  await publisher.connect();
  admin = new Pool({ connectionString: db.url, max: 2 });
  domain = app.get(InventoryDomain);
  main = (await domain.locations.create(tenant, { code: 'MAIN', name: 'Main' })).id;
  await announceSkus(app, tenant, 'SAGA-1', 'SAGA-HOT');
});
afterAll(async () => {
  await app?.close();
  await publisher?.close();
  await admin?.end();
  await db?.drop();
});

function orderEvent<T>(type: string, orderId: string, data: T): EventEnvelope<T> {
  return createEnvelope({ source: 'orders', type, subject: orderId, tenantId: tenant, data });
}
const placed = (orderId: string, items: { sku: string; quantity: number }[], paymentMethod: PaymentMethod = 'bank_transfer') =>
  orderEvent(OrdersEventTypes.OrderPlaced, orderId, {
    orderId,
    items: items.map((i) => ({ ...i, unitPriceAmount: 100 })),
    currency: 'EUR',
    totalAmount: 100,
    paymentMethod,
    customer: { name: 'A', email: 'a@example.com' },
  });

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
const statusOf = (orderId: string) => eventually(() => domain.reservations.get(tenant, orderId), (r) => r !== null);
const outboxTypes = async (orderId: string) =>
  (await admin.query(`SELECT type FROM inventory.outbox_events WHERE partition_key = $1 ORDER BY seq`, [orderId])).rows.map((r) => r.type);
const level = async (sku: string) => (await domain.queries.levels(tenant, { sku }))[0];

describe('orders events → inventory', () => {
  it('placed reserves, a redelivered placed changes nothing, paid commits once', async () => {
    await domain.movements.apply(tenant, { type: 'receive', sku: 'SAGA-1', locationId: main, quantity: 5 });
    const orderId = randomUUID();
    const event = placed(orderId, [{ sku: 'SAGA-1', quantity: 2 }]);
    await publisher.publish(topicOf('orders'), [event, event]);
    await publisher.publish(topicOf('orders'), [placed(orderId, [{ sku: 'SAGA-1', quantity: 2 }])]);
    expect((await statusOf(orderId))?.status).toBe('active');
    const paid = orderEvent(OrdersEventTypes.OrderPaid, orderId, { orderId, paymentId: randomUUID() });
    await publisher.publish(topicOf('orders'), [paid, paid]);
    const committed = await eventually(() => domain.reservations.get(tenant, orderId), (r) => r?.status === 'committed');
    expect(committed?.status).toBe('committed');
    // Let any duplicate deliveries land before checking that nothing moved twice.
    await new Promise((r) => setTimeout(r, 300));
    expect(await level('SAGA-1')).toMatchObject({ onHand: 3, reserved: 0, available: 3 });
    expect(await outboxTypes(orderId)).toEqual(['inventory.reservation.confirmed', 'inventory.reservation.committed']);
    // The relay publishes them on the inventory topic, in order, keyed by the order id.
    const published = await eventually(
      async () => (await admin.query(`SELECT envelope->>'type' AS type FROM messaging.events WHERE topic = $1 AND key = $2 ORDER BY "offset"`, [topicOf('inventory'), orderId])).rows.map((r) => r.type),
      (types) => types.length >= 2,
    );
    expect(published).toEqual(['inventory.reservation.confirmed', 'inventory.reservation.committed']);
  });

  it('a cash-on-delivery order holds its stock for the cash-on-delivery TTL, another for the checkout TTL', async () => {
    const [cod, card] = [randomUUID(), randomUUID()];
    await publisher.publish(topicOf('orders'), [placed(cod, [{ sku: 'SAGA-1', quantity: 1 }], 'cod'), placed(card, [{ sku: 'SAGA-1', quantity: 1 }], 'card')]);
    const hold = async (orderId: string) => {
      const r = await eventually(() => domain.reservations.get(tenant, orderId), (x) => x?.status === 'active');
      return ((r?.expiresAt?.getTime() ?? 0) - Date.now()) / 1000;
    };
    expect(await hold(cod)).toBeGreaterThan(14 * 86400 - 60);
    expect(await hold(card)).toBeLessThanOrEqual(900);
    for (const orderId of [cod, card]) await domain.reservations.release(tenant, orderId);
  });

  it('not enough stock: rejected, with no stock change', async () => {
    const orderId = randomUUID();
    await publisher.publish(topicOf('orders'), [placed(orderId, [{ sku: 'SAGA-1', quantity: 1 }, { sku: 'SAGA-NONE', quantity: 1 }])]);
    expect((await statusOf(orderId))?.status).toBe('rejected');
    expect(await level('SAGA-1')).toMatchObject({ onHand: 3, reserved: 0 });
    expect(await outboxTypes(orderId)).toEqual(['inventory.reservation.rejected']);
  });

  it('cancelled releases the stock; expired after release is a no-op', async () => {
    const orderId = randomUUID();
    await publisher.publish(topicOf('orders'), [
      placed(orderId, [{ sku: 'SAGA-1', quantity: 3 }]),
      orderEvent(OrdersEventTypes.OrderCancelled, orderId, { orderId, reason: 'customer' }),
      orderEvent(OrdersEventTypes.OrderExpired, orderId, { orderId }),
    ]);
    const released = await eventually(() => domain.reservations.get(tenant, orderId), (r) => r?.status === 'released');
    expect(released?.status).toBe('released');
    expect(await level('SAGA-1')).toMatchObject({ onHand: 3, reserved: 0 });
    expect(await outboxTypes(orderId)).toEqual(['inventory.reservation.confirmed', 'inventory.reservation.released']);
  });

  it('hot SKU: placed goes through the queue and the worker serves it', async () => {
    await domain.movements.apply(tenant, { type: 'receive', sku: 'SAGA-HOT', locationId: main, quantity: 1 });
    await domain.hotQueue.flag(tenant, 'SAGA-HOT');
    const first = randomUUID();
    const second = randomUUID();
    await publisher.publish(topicOf('orders'), [placed(first, [{ sku: 'SAGA-HOT', quantity: 1 }])]);
    await publisher.publish(topicOf('orders'), [placed(second, [{ sku: 'SAGA-HOT', quantity: 1 }])]);
    // Two orders, two partitions: either may arrive first, and exactly one gets the last unit.
    const statuses = [(await statusOf(first))?.status, (await statusOf(second))?.status].sort();
    expect(statuses).toEqual(['active', 'rejected']);
    const [{ n }] = (await admin.query(`SELECT count(*)::int AS n FROM inventory.reservation_requests WHERE idempotency_key = ANY($1)`, [[first, second]])).rows;
    expect(n).toBeGreaterThanOrEqual(1);
  });
});
