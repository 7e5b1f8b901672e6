import { randomUUID } from 'node:crypto';
import { CatalogEventTypes, InventoryEventTypes, TOPICS, type EventEnvelope, type ReservationConfirmedV1, type VariantEventV1 } from '@tessera/contracts';
import { PostgresTransport } from '@tessera/messaging';
import { envelope, orderBody, OrdersHarness } from './support/orders-harness';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The running service on the postgres transport: catalog and inventory events in, orders events out. */
describe('orders on the postgres event transport', () => {
  let h: OrdersHarness;
  let producer: PostgresTransport;

  beforeAll(async () => {
    h = await OrdersHarness.start({ consumeEvents: true, transport: (url) => new PostgresTransport({ url, pollIntervalMs: 100 }) });
    producer = new PostgresTransport({ url: h.db.url });
    await producer.connect();
  });

  afterAll(async () => {
    await producer.close();
    await h.close();
  });

  it('builds the read model from catalog events, publishes placed, and moves on a reservation from inventory', async () => {
    const owner = h.staff('owner');
    const variant: VariantEventV1 = {
      tenantId: owner.tenantId,
      variantId: randomUUID(),
      productId: randomUUID(),
      sku: 'WIRE-1',
      priceAmount: 4200,
      currency: 'EUR',
      compareAtAmount: null,
      status: 'active',
      fulfillment: 'physical',
      version: 1,
      occurredAt: new Date().toISOString(),
    };
    await producer.publish(TOPICS.catalog, [
      envelope('catalog', CatalogEventTypes.VariantCreated, owner.tenantId, variant.variantId, variant, variant.productId),
    ]);
    const placed = await waitFor('the variant to be sellable', async () => {
      const res = await h.placeOrder(owner, orderBody([{ sku: 'WIRE-1', quantity: 2 }]));
      return res.status === 202 ? res : null;
    });
    const orderId: string = placed.body.id;

    const published = await waitFor('orders.order.placed on the orders topic', async () => {
      const { rows } = await h.admin.query<{ envelope: EventEnvelope }>(
        `SELECT envelope FROM messaging.events WHERE topic = $1 AND envelope->>'subject' = $2`,
        [TOPICS.orders, orderId],
      );
      return rows[0];
    });
    expect(published.envelope).toMatchObject({ type: 'orders.order.placed', tenantid: owner.tenantId, partitionkey: orderId });
    expect(published.envelope.data).toMatchObject({ totalAmount: 8400, currency: 'EUR' });

    const reservationId = randomUUID();
    const data: ReservationConfirmedV1 = {
      reservationId,
      reference: orderId,
      lines: [{ sku: 'WIRE-1', quantity: 2, condition: 'new' }],
      allocations: [],
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    };
    await producer.publish(TOPICS.inventory, [envelope('inventory', InventoryEventTypes.ReservationConfirmed, owner.tenantId, reservationId, data, orderId)]);
    const order = await waitFor('awaiting_payment', async () => {
      const res = await h.getOrder(owner, orderId);
      return res.body.status === 'awaiting_payment' ? res.body : null;
    });
    expect(order.reservation.id).toBe(reservationId);
    await waitFor('orders.order.awaiting_payment on the orders topic', async () => {
      const { rows } = await h.admin.query(
        `SELECT 1 FROM messaging.events WHERE topic = $1 AND envelope->>'type' = 'orders.order.awaiting_payment' AND envelope->>'subject' = $2`,
        [TOPICS.orders, orderId],
      );
      return rows.length === 1;
    });
  });
});
