import { randomUUID } from 'node:crypto';
import { client, eventually, removeDataDir, startPlatform, type Platform } from './platform';
import { receiveStock } from './stock';

type Api = ReturnType<typeof client>;

/**
 * The order-to-cash saga through the gateway: catalog, inventory, orders and billing joined only by events.
 * Run once per transport (the postgres log by default, Kafka when `kafkaBrokers` gives a broker list).
 */
export function describeOrderToCash(
  transport: string,
  extraEnv: () => Promise<Record<string, string>>,
  /** After the flows: proof that their events really went over this transport. */
  carried?: () => Promise<void>,
) {
  describe(`order to cash through the gateway (${transport} transport)`, () => {
    let platform: Platform;
    let api: Api;
    let token: string;
    let locationA: string;
    let locationB: string;
    const sku = (name: string) => `${name}-${transport}`.toUpperCase();

    beforeAll(async () => {
      platform = await startPlatform({
        ...(await extraEnv()),
        RATE_LIMIT_ADDRESS_POINTS: '100000',
        RATE_LIMIT_TENANT_POINTS: '100000',
        RATE_LIMIT_AUTH_POINTS: '1000',
        INVENTORY_EXPIRY_SWEEP_MS: '300',
        // 1,000 orders arrive at once: on a loaded 2-core CI machine the last ones wait longer than the default 10 s.
        UPSTREAM_TIMEOUT_MS: '120000',
      });
      api = client(platform.baseUrl);
      const slug = `o2c-${randomUUID().slice(0, 8)}`;
      const owner = { email: `owner@${slug}.test`, password: 'order to cash pw', name: 'Olga' };
      expect((await api('POST', '/v1/tenants', { body: { name: 'O2C', slug, defaultCurrency: 'EUR', owner } })).status).toBe(201);
      token = (await api('POST', '/v1/auth/login', { body: { email: owner.email, password: owner.password } })).body.accessToken;

      const a = await api('POST', '/v1/inventory/locations', { token, body: { code: 'WH-A', name: 'Main', priority: 1 } });
      const b = await api('POST', '/v1/inventory/locations', { token, body: { code: 'WH-B', name: 'Overflow', priority: 2 } });
      expect([a.status, b.status]).toEqual([201, 201]);
      locationA = a.body.id;
      locationB = b.body.id;

      const product = await api('POST', '/v1/products', {
        token,
        body: {
          title: 'Brick 2x4',
          variants: [
            { sku: sku('brick-red'), priceAmount: 250, currency: 'EUR' },
            { sku: sku('brick-blue'), priceAmount: 300, currency: 'EUR' },
            { sku: sku('brick-hot'), priceAmount: 100, currency: 'EUR' },
          ],
        },
      });
      expect(product.status).toBe(201);
      for (const [s, loc, qty] of [
        [sku('brick-red'), locationA, 6],
        [sku('brick-red'), locationB, 4],
        [sku('brick-blue'), locationA, 5],
        [sku('brick-hot'), locationA, 100],
      ] as const) {
        // Inventory learns the SKUs from catalog events: receiveStock retries its 422 unknown_sku until they arrive.
        const mv = await receiveStock(api, token, { sku: s, locationId: loc, quantity: qty });
        expect(mv.status).toBe(201);
      }
      // The orders service learns variants from catalog events: place (then cancel) a probe order for all three
      // SKUs until it is accepted instead of refused as unknown.
      const all = ['brick-red', 'brick-blue', 'brick-hot'].map((n) => ({ sku: sku(n), quantity: 1 }));
      const probe = await eventually(async () => {
        const res = await api('POST', '/v1/orders', {
          token,
          body: { items: all, customer: { name: 'Probe', email: 'probe@x.test' }, paymentMethod: 'cod' },
        });
        return res.status === 202 ? res.body : undefined;
      }, 'the catalog read model in orders');
      await eventually(async () => {
        const o = await api('GET', `/v1/orders/${probe.id}`, { token });
        return o.body.status === 'awaiting_payment' ? true : undefined;
      }, 'the probe order to be reserved');
      expect((await api('POST', `/v1/orders/${probe.id}/cancel`, { token, body: {} })).status).toBeLessThan(300);
      await eventually(async () => {
        const levels = await api('GET', '/v1/inventory/levels', { token });
        return levels.body.items.every((l: any) => l.reserved === 0) ? true : undefined;
      }, 'the probe reservation to be released');
    }, 120_000);

    afterAll(async () => {
      if (platform) {
        // A 500 in a test shows only its error id: the services' error lines say what happened.
        const errors = platform.output().split('\n').filter((l) => /"level":(50|60)/.test(l));
        if (errors.length > 0) console.warn(`platform error log (${errors.length} lines):\n${errors.slice(0, 20).join('\n')}`);
        await platform.stop();
        removeDataDir(platform);
      }
    });

    const place = (items: { sku: string; quantity: number }[], headers: Record<string, string> = {}) =>
      api('POST', '/v1/orders', { token, headers, body: { items, customer: { name: 'Cleo', email: 'cleo@example.test' }, paymentMethod: 'bank_transfer' } });

    const orderIn = (id: string, statuses: string[]) =>
      eventually(async () => {
        const o = await api('GET', `/v1/orders/${id}`, { token });
        return statuses.includes(o.body.status) ? o.body : undefined;
      }, `order ${id} to reach ${statuses.join('|')}`);

    const level = async (s: string) => {
      const res = await api('GET', `/v1/inventory/levels?sku=${encodeURIComponent(s)}`, { token });
      expect(res.status).toBe(200);
      return res.body.items.reduce(
        (acc: any, l: any) => ({ onHand: acc.onHand + l.onHand, reserved: acc.reserved + l.reserved, available: acc.available + l.available }),
        { onHand: 0, reserved: 0, available: 0 },
      );
    };

    const paymentOf = (orderId: string, status?: string) =>
      eventually(async () => {
        const res = await api('GET', `/v1/payments?orderId=${orderId}`, { token });
        const p = res.body.items?.[0];
        return p && (!status || p.status === status) ? p : undefined;
      }, `payment of ${orderId}${status ? ` to be ${status}` : ''}`);

    it('places → awaiting payment → paid → stock committed, across two locations', async () => {
      const res = await place([{ sku: sku('brick-red'), quantity: 8 }, { sku: sku('brick-blue'), quantity: 1 }]);
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ id: expect.any(String), status: 'pending' });
      const awaiting = await orderIn(res.body.id, ['awaiting_payment']);
      expect(awaiting.totals).toMatchObject({ currency: 'EUR' });
      expect(await level(sku('brick-red'))).toEqual({ onHand: 10, reserved: 8, available: 2 });

      const payment = await paymentOf(res.body.id, 'pending');
      expect(payment).toMatchObject({ amount: 8 * 250 + 300, currency: 'EUR', method: 'bank_transfer' });
      expect((await api('POST', `/v1/payments/${payment.id}/confirm`, { token })).status).toBeLessThan(300);

      const paid = await orderIn(res.body.id, ['paid']);
      expect(paid.history.map((h: any) => h.to)).toEqual(expect.arrayContaining(['pending', 'awaiting_payment', 'paid']));
      await eventually(async () => {
        const l = await level(sku('brick-red'));
        return l.onHand === 2 && l.reserved === 0 ? l : undefined;
      }, 'stock to be committed');
      const ledger = await api('GET', `/v1/inventory/ledger?sku=${encodeURIComponent(sku('brick-red'))}`, { token });
      const sum = ledger.body.items.reduce((acc: number, e: any) => acc + e.delta, 0);
      expect(sum).toBe(2);
    });

    it("serves each service's outbox and consumer-lag gauges on its /metrics", async () => {
      for (const service of ['identity', 'catalog', 'inventory', 'orders', 'billing']) {
        const consumes = service !== 'identity' && service !== 'catalog';
        // Consumer lag is sampled every few seconds: wait for the first sample.
        const text = await eventually(async () => {
          const res = await fetch(`${platform.serviceUrl(service)}/metrics`);
          const body = res.status === 200 ? await res.text() : '';
          return body && (!consumes || /^messaging_consumer_lag\{/m.test(body)) ? body : undefined;
        }, `${service} /metrics`);
        expect(text).toMatch(new RegExp(`^outbox_backlog\\{[^}]*service="${service}"`, 'm'));
        expect(text).toMatch(/^outbox_oldest_age_seconds\{/m);
        expect(text).toMatch(/^http_request_duration_seconds_count\{/m);
        if (consumes) expect(text).toMatch(/^messaging_consumer_lag\{[^}]*group="/m);
      }
    });

    it('rejects an order without enough stock and changes no stock', async () => {
      const before = await level(sku('brick-blue'));
      const res = await place([{ sku: sku('brick-blue'), quantity: 50 }]);
      expect(res.status).toBe(202);
      const rejected = await orderIn(res.body.id, ['rejected']);
      expect(JSON.stringify(rejected)).toContain(sku('brick-blue'));
      expect(await level(sku('brick-blue'))).toEqual(before);
    });

    it('cancel releases the stock and cancels the payment', async () => {
      const res = await place([{ sku: sku('brick-blue'), quantity: 2 }]);
      await orderIn(res.body.id, ['awaiting_payment']);
      await paymentOf(res.body.id, 'pending');
      expect((await level(sku('brick-blue'))).reserved).toBe(2);
      expect((await api('POST', `/v1/orders/${res.body.id}/cancel`, { token, body: {} })).status).toBeLessThan(300);
      await orderIn(res.body.id, ['cancelled']);
      await paymentOf(res.body.id, 'cancelled');
      await eventually(async () => ((await level(sku('brick-blue'))).reserved === 0 ? true : undefined), 'stock released');
    });

    it('reservation expiry expires the order, releases stock and cancels the payment', async () => {
      expect((await api('PUT', '/v1/inventory/settings', { token, body: { reservationTtlSeconds: 2 } })).status).toBe(200);
      try {
        const res = await place([{ sku: sku('brick-blue'), quantity: 1 }]);
        await orderIn(res.body.id, ['awaiting_payment']);
        await orderIn(res.body.id, ['expired']);
        await paymentOf(res.body.id, 'cancelled');
        await eventually(async () => ((await level(sku('brick-blue'))).reserved === 0 ? true : undefined), 'stock released');
      } finally {
        await api('PUT', '/v1/inventory/settings', { token, body: { reservationTtlSeconds: 900 } });
      }
    });

    it('replays an Idempotency-Key and refuses bad orders with 4xx', async () => {
      const key = randomUUID();
      const first = await place([{ sku: sku('brick-red'), quantity: 1 }], { 'idempotency-key': key });
      const again = await place([{ sku: sku('brick-red'), quantity: 1 }], { 'idempotency-key': key });
      expect(again.status).toBe(first.status);
      expect(again.body).toEqual(first.body);
      expect((await place([{ sku: sku('brick-red'), quantity: 2 }], { 'idempotency-key': key })).status).toBe(422);

      expect((await place([{ sku: 'NO-SUCH-SKU', quantity: 1 }])).status).toBe(422);
      for (const quantity of [0, -1, 1.5, 10_000_000]) expect((await place([{ sku: sku('brick-red'), quantity }])).status).toBe(400);
      const other = await api('GET', `/v1/orders/${randomUUID()}`, { token });
      expect(other.status).toBe(404);
    });

    it('1,000 concurrent one-unit orders against 100 units: exactly 100 reserved, 900 rejected', async () => {
      const placed = await Promise.all(Array.from({ length: 1000 }, () => place([{ sku: sku('brick-hot'), quantity: 1 }])));
      expect(placed.map((p) => p.status).filter((s) => s !== 202)).toEqual([]);
      const ids = new Set(placed.map((p) => p.body.id as string));
      const counts = await eventually(
        async () => {
          const c: Record<string, number> = {};
          let cursor: string | undefined;
          do {
            const page = await api('GET', `/v1/orders?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
            for (const o of page.body.items) if (ids.has(o.id)) c[o.status] = (c[o.status] ?? 0) + 1;
            cursor = page.body.nextCursor ?? undefined;
          } while (cursor);
          return (c.awaiting_payment ?? 0) + (c.rejected ?? 0) === 1000 ? c : undefined;
        },
        'all 1,000 orders to be decided',
        180_000,
      );
      expect(counts).toEqual({ awaiting_payment: 100, rejected: 900 });
      expect(await level(sku('brick-hot'))).toEqual({ onHand: 100, reserved: 100, available: 0 });
    }, 240_000);

    if (carried) it(`carried the saga's events on the ${transport} transport`, carried);
  });
}

export { removeDataDir };
