import { randomUUID } from 'node:crypto';
import { deadlocks, SAGA_GROUPS, unpublished, type EventLog, type EventLogFactory } from './event-log';
import { documentedClient, type ContractChecker } from './contract';
import { eventually, removeDataDir, startPlatform, type client, type Platform } from './platform';
import { receiveStock } from './stock';

type Api = ReturnType<typeof client>;

export interface OrderToCashOptions {
  /** The transport's log, to deliver the saga's events again the way this transport would. */
  eventLog: EventLogFactory;
  /** After the flows: proof that their events really went over this transport. */
  carried?: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A small seeded generator (mulberry32): the same "random" orders on every run. */
function seeded(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * The order-to-cash saga through the gateway: catalog, inventory, orders and billing joined only by events.
 * Run once per transport (the postgres log by default, Kafka when `extraEnv` gives KAFKA_BROKERS).
 */
export function describeOrderToCash(transport: string, extraEnv: () => Promise<Record<string, string>>, options: OrderToCashOptions) {
  const { carried } = options;
  describe(`order to cash through the gateway (${transport} transport)`, () => {
    let platform: Platform;
    let eventLog: EventLog;
    let api: Api;
    let checker: ContractChecker;
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
        // One login serves the whole file, which on a slow Kafka run can outlast the default 15 minutes.
        ACCESS_TOKEN_TTL_SECONDS: '3600',
      });
      ({ api, checker } = await documentedClient(platform.baseUrl));
      eventLog = options.eventLog(platform);
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
      expect((await api('POST', `/v1/orders/${probe.id}/cancel`, { token, body: {} })).status).toBe(200);
      await eventually(async () => {
        const levels = await api('GET', '/v1/inventory/levels', { token });
        return levels.body.items.every((l: any) => l.reserved === 0) ? true : undefined;
      }, 'the probe reservation to be released');
      // startPlatform alone may take up to 150 s on a cold machine; a hook that timed out would leave it running.
    }, 300_000);

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

    /** Every item of a cursor-paginated list. */
    const pages = async (url: string, limit = 100): Promise<any[]> => {
      const items: any[] = [];
      let cursor: string | undefined;
      do {
        const page = await api('GET', `${url}${url.includes('?') ? '&' : '?'}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
        expect({ url, status: page.status }).toEqual({ url, status: 200 });
        items.push(...page.body.items);
        cursor = page.body.nextCursor ?? undefined;
      } while (cursor);
      return items;
    };

    const detail = async (url: string) => {
      const res = await api('GET', url, { token });
      expect({ url, status: res.status }).toEqual({ url, status: 200 });
      return res.body;
    };

    /** What the saga's events decide, as the API shows it: every order and payment in full, stock and ledger. */
    const snapshot = async () => {
      const [orders, payments, levels] = await Promise.all([pages('/v1/orders'), pages('/v1/payments'), pages('/v1/inventory/levels')]);
      const skus = [...new Set(levels.map((l) => l.sku as string))].sort();
      return {
        orders: await Promise.all(orders.map((o) => detail(`/v1/orders/${o.id}`))),
        payments: await Promise.all(payments.map((p) => detail(`/v1/payments/${p.id}`))),
        levels,
        ledger: Object.fromEntries(
          await Promise.all(skus.map(async (s): Promise<[string, any[]]> => [s, await pages(`/v1/inventory/ledger?sku=${encodeURIComponent(s)}`, 500)])),
        ),
      };
    };
    type Snapshot = Awaited<ReturnType<typeof snapshot>>;

    /** The parts a reader cares about first, so that a difference shows up readably before the full comparison. */
    const essentials = (s: Snapshot) => ({
      orders: s.orders.map((o) => ({ id: o.id, status: o.status, history: o.history.length, paymentId: o.paymentId })),
      payments: s.payments.map((p) => ({ orderId: p.orderId, status: p.status, amount: p.amount, history: p.history.length })),
      levels: s.levels.map((l) => ({ sku: l.sku, locationId: l.locationId, onHand: l.onHand, reserved: l.reserved, available: l.available })),
      ledgerEntries: Object.fromEntries(Object.entries(s.ledger).map(([k, v]) => [k, v.length])),
    });

    /**
     * Every consumer group has handled every event of the log and no service's outbox holds an unpublished event,
     * and that still holds a moment later (nothing new was published meanwhile).
     */
    const caughtUp = (what: string) =>
      eventually(
        async () => {
          const state = async () => ({ lag: await eventLog.lag(), unpublished: await unpublished(platform), published: await eventLog.published() });
          const first = await state();
          const idle = Object.values(first.lag).every((n) => n === 0) && Object.values(first.unpublished).every((n) => n === 0);
          if (!idle) return undefined;
          await sleep(500);
          return JSON.stringify(await state()) === JSON.stringify(first) ? first : undefined;
        },
        what,
        120_000,
      );

    it('places → awaiting payment → paid → stock committed, across two locations', async () => {
      const res = await place([{ sku: sku('brick-red'), quantity: 8 }, { sku: sku('brick-blue'), quantity: 1 }]);
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ id: expect.any(String), status: 'pending' });
      const awaiting = await orderIn(res.body.id, ['awaiting_payment']);
      expect(awaiting.totals).toMatchObject({ currency: 'EUR' });
      expect(await level(sku('brick-red'))).toEqual({ onHand: 10, reserved: 8, available: 2 });

      const payment = await paymentOf(res.body.id, 'pending');
      expect(payment).toMatchObject({ amount: 8 * 250 + 300, currency: 'EUR', method: 'bank_transfer' });
      expect((await api('POST', `/v1/payments/${payment.id}/confirm`, { token })).status).toBe(200);

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
      expect((await api('POST', `/v1/orders/${res.body.id}/cancel`, { token, body: {} })).status).toBe(200);
      await orderIn(res.body.id, ['cancelled']);
      await paymentOf(res.body.id, 'cancelled');
      await eventually(async () => ((await level(sku('brick-blue'))).reserved === 0 ? true : undefined), 'stock released');
    });

    it('reservation expiry expires the order, releases stock and cancels the payment', async () => {
      expect((await api('PUT', '/v1/inventory/settings', { token, body: { reservationTtlSeconds: 2 } })).status).toBe(200);
      try {
        const res = await place([{ sku: sku('brick-blue'), quantity: 1 }]);
        // With a 2 s TTL the order may pass through awaiting_payment between two polls: its history shows it did.
        const expired = await orderIn(res.body.id, ['expired']);
        expect(expired.history.map((h: any) => h.to)).toEqual(expect.arrayContaining(['awaiting_payment', 'expired']));
        await paymentOf(res.body.id, 'cancelled');
        await eventually(async () => ((await level(sku('brick-blue'))).reserved === 0 ? true : undefined), 'stock released');
      } finally {
        // Checked: a tenant left with a 2 s TTL would expire the orders of the tests after this one.
        expect((await api('PUT', '/v1/inventory/settings', { token, body: { reservationTtlSeconds: 900 } })).status).toBe(200);
      }
    });

    it('a failed payment tried again and then confirmed pays the order and commits the stock', async () => {
      expect((await receiveStock(api, token, { sku: sku('brick-blue'), locationId: locationA, quantity: 1 })).status).toBe(201);
      const before = await level(sku('brick-blue'));
      const res = await place([{ sku: sku('brick-blue'), quantity: 1 }]);
      await orderIn(res.body.id, ['awaiting_payment']);
      const first = await paymentOf(res.body.id, 'pending');
      expect((await api('POST', `/v1/payments/${first.id}/fail`, { token, body: { reason: 'card declined' } })).status).toBe(200);
      const retry = await api('POST', `/v1/payments/${first.id}/retry`, { token });
      expect(retry.status).toBe(201);
      expect(retry.body).toMatchObject({ orderId: res.body.id, attempt: 2, retryOf: first.id, status: 'pending', amount: first.amount });
      expect((await api('POST', `/v1/payments/${first.id}/retry`, { token })).status).toBe(409);
      // The order takes the new attempt as its payment, and the money confirmed on it pays the order.
      await eventually(async () => ((await api('GET', `/v1/orders/${res.body.id}`, { token })).body.paymentId === retry.body.id ? true : undefined), 'the retry to be the order\'s payment');
      expect((await api('POST', `/v1/payments/${retry.body.id}/confirm`, { token })).status).toBe(200);
      const paid = await orderIn(res.body.id, ['paid']);
      expect(paid.paymentId).toBe(retry.body.id);
      await eventually(async () => {
        const l = await level(sku('brick-blue'));
        return l.onHand === before.onHand - 1 && l.reserved === before.reserved ? l : undefined;
      }, 'stock to be committed');
      // The first attempt's money arrives after all: recorded, flagged for refund, and the order stays paid.
      const late = await api('POST', `/v1/payments/${first.id}/confirm`, { token });
      expect(late.status).toBe(200);
      expect(late.body).toMatchObject({ status: 'confirmed', refundRequired: true, refundReason: 'payment_superseded' });
      await eventually(
        async () => ((await api('GET', `/v1/orders/${res.body.id}`, { token })).body.history.some((h: { note?: string | null }) => h.note?.startsWith(`payment ${first.id} confirmed`)) ? true : undefined),
        'orders to note the late confirmation',
      );
      const after = (await api('GET', `/v1/orders/${res.body.id}`, { token })).body;
      expect(after).toMatchObject({ status: 'paid', paymentId: retry.body.id });
    });

    it('a cash-on-delivery order keeps its stock past the checkout TTL; a bank transfer placed with it expires', async () => {
      expect((await api('PUT', '/v1/inventory/settings', { token, body: { reservationTtlSeconds: 2 } })).status).toBe(200);
      try {
        const order = (paymentMethod: string) =>
          api('POST', '/v1/orders', { token, body: { items: [{ sku: sku('brick-blue'), quantity: 1 }], customer: { name: 'Dan', email: 'dan@example.test' }, paymentMethod } });
        const [cod, transfer] = [await order('cod'), await order('bank_transfer')];
        const held = await orderIn(cod.body.id, ['awaiting_payment']);
        expect(Date.parse(held.reservation.expiresAt) - Date.now()).toBeGreaterThan(13 * 86_400_000);
        expect(await paymentOf(cod.body.id, 'pending')).toMatchObject({ method: 'cod', dueAt: null });
        await orderIn(transfer.body.id, ['expired']);
        expect((await api('GET', `/v1/orders/${cod.body.id}`, { token })).body.status).toBe('awaiting_payment');
        expect((await api('POST', `/v1/orders/${cod.body.id}/cancel`, { token, body: {} })).status).toBe(200);
        await eventually(async () => ((await level(sku('brick-blue'))).reserved === 0 ? true : undefined), 'stock released');
      } finally {
        // Checked: a tenant left with a 2 s TTL would expire the orders of the tests after this one.
        expect((await api('PUT', '/v1/inventory/settings', { token, body: { reservationTtlSeconds: 900 } })).status).toBe(200);
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

    it('replayed and duplicated events change nothing: no second payment, reservation, commit or transition', async () => {
      // The tests before this one leave orders whose reservations may still land; the stock read below as the start
      // must not move under anything but this flow.
      await caughtUp('earlier orders to settle');
      // A full flow first: placed → awaiting payment → paid → stock committed.
      for (const locationId of [locationA, locationB]) {
        expect((await receiveStock(api, token, { sku: sku('brick-red'), locationId, quantity: 2 })).status).toBe(201);
      }
      expect((await receiveStock(api, token, { sku: sku('brick-blue'), locationId: locationA, quantity: 1 })).status).toBe(201);
      const start = await level(sku('brick-red'));
      const res = await place([{ sku: sku('brick-red'), quantity: 3 }, { sku: sku('brick-blue'), quantity: 1 }]);
      expect(res.status).toBe(202);
      await orderIn(res.body.id, ['awaiting_payment']);
      const payment = await paymentOf(res.body.id, 'pending');
      expect((await api('POST', `/v1/payments/${payment.id}/confirm`, { token })).status).toBe(200);
      await orderIn(res.body.id, ['paid']);
      await eventually(async () => {
        const l = await level(sku('brick-red'));
        return l.onHand === start.onHand - 3 && l.reserved === start.reserved ? l : undefined;
      }, 'stock to be committed');
      await caughtUp('the flow to settle');
      const before = await snapshot();
      const publishedBefore = await eventLog.published();
      const flow = before.orders.find((o) => o.id === res.body.id);
      expect(flow).toMatchObject({ status: 'paid', paymentId: payment.id });
      expect(before.payments.filter((p) => p.orderId === res.body.id).map((p) => p.status)).toEqual(['confirmed']);

      // 1. Redelivery: every consumer group reads the whole log again, this flow and all the tests before it.
      const rewound = await eventLog.rewind();
      for (const group of Object.keys(SAGA_GROUPS)) expect({ group, behind: rewound[group] > 0 }).toEqual({ group, behind: true });
      await caughtUp('the rewound groups to read the log again');
      const replayed = await snapshot();
      expect(essentials(replayed)).toEqual(essentials(before));
      expect(replayed).toEqual(before);
      // Nor did any service publish anything in answer to what it had handled already.
      expect(await eventLog.published()).toEqual(publishedBefore);

      // 2. Duplicates: every event of the log published once more, same id, after everything it caused.
      const copies = await eventLog.duplicate();
      const sagaTopics = [...new Set(Object.values(SAGA_GROUPS).flat())];
      expect(copies).toEqual(Object.fromEntries(sagaTopics.map((t) => [t, publishedBefore[t]])));
      await caughtUp('the duplicates to be handled');
      const duplicated = await snapshot();
      expect(essentials(duplicated)).toEqual(essentials(before));
      expect(duplicated).toEqual(before);
      expect(await eventLog.published()).toEqual(Object.fromEntries(Object.entries(publishedBefore).map(([t, n]) => [t, n + (copies[t] ?? 0)])));
    }, 600_000);

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
    }, 420_000);

    it('300 concurrent orders of 2–3 lines over SKUs split across two locations: each all or nothing, no oversell, no deadlock', async () => {
      const skus = [1, 2, 3, 4].map((n) => sku(`tile-${n}`));
      // Demand (about 300 × 2.5 lines × 1.5 units ≈ 1,100) is over twice the supply (500); WH-A, first by priority,
      // runs out first.
      const received: Record<string, Record<string, number>> = {
        [skus[0]]: { [locationA]: 30, [locationB]: 110 },
        [skus[1]]: { [locationA]: 25, [locationB]: 100 },
        [skus[2]]: { [locationA]: 35, [locationB]: 90 },
        [skus[3]]: { [locationA]: 20, [locationB]: 90 },
      };
      const product = await api('POST', '/v1/products', {
        token,
        body: { title: 'Tile 1x1', variants: skus.map((s) => ({ sku: s, priceAmount: 40, currency: 'EUR' })) },
      });
      expect(product.status).toBe(201);
      for (const s of skus) {
        for (const [locationId, quantity] of Object.entries(received[s])) {
          expect((await receiveStock(api, token, { sku: s, locationId, quantity })).status).toBe(201);
        }
      }
      // Orders learns the SKUs from catalog events: a probe asking for more than exists is accepted once it knows
      // them all, and then rejected by inventory without touching stock.
      const probe = await eventually(async () => {
        const r = await place(skus.map((s) => ({ sku: s, quantity: 10_000 })));
        return r.status === 202 ? r.body : undefined;
      }, 'the catalog read model in orders');
      await orderIn(probe.id, ['rejected']);
      const deadlocksBefore = await deadlocks(platform);

      const rand = seeded(20_240_601);
      const wanted = Array.from({ length: 300 }, () => {
        const shuffled = [...skus];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = rand(i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
        }
        return shuffled.slice(0, 2 + rand(2)).map((s) => ({ sku: s, quantity: 1 + rand(2) }));
      });

      // While the orders are decided, stock is sampled: available must never go below zero anywhere.
      const samples: any[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const rows = (await Promise.all(skus.map((s) => pages(`/v1/inventory/levels?sku=${encodeURIComponent(s)}`)))).flat();
          samples.push(...rows.filter((l) => l.available < 0 || l.reserved > l.onHand || l.available !== l.onHand - l.reserved));
          await sleep(200);
        }
      })();

      let decided: Map<string, any>;
      try {
        const placed = await Promise.all(wanted.map((items) => place(items)));
        expect(placed.map((p) => p.status).filter((s) => s !== 202)).toEqual([]);
        const lines = new Map<string, { sku: string; quantity: number }[]>(placed.map((p, i) => [p.body.id as string, wanted[i]]));
        decided = await eventually(
          async () => {
            const mine = (await pages('/v1/orders')).filter((o) => lines.has(o.id));
            return mine.length === lines.size && mine.every((o) => o.status === 'awaiting_payment' || o.status === 'rejected')
              ? new Map(mine.map((o) => [o.id as string, { ...o, lines: lines.get(o.id) }]))
              : undefined;
          },
          'all 300 orders to be decided',
          180_000,
        );
      } finally {
        sampling = false;
        await sampler;
      }
      const decidedAt = Date.now();
      expect(samples).toEqual([]);

      const awaiting = [...decided.values()].filter((o) => o.status === 'awaiting_payment');
      const rejected = [...decided.values()].filter((o) => o.status === 'rejected');
      // Both outcomes happened: demand exceeded supply, and stock was there for some.
      expect(awaiting.length).toBeGreaterThan(0);
      expect(rejected.length).toBeGreaterThan(0);

      const levels = (await Promise.all(skus.map((s) => pages(`/v1/inventory/levels?sku=${encodeURIComponent(s)}`)))).flat();
      const ledger = (await Promise.all(skus.map((s) => pages(`/v1/inventory/ledger?sku=${encodeURIComponent(s)}`, 500)))).flat();
      // What the ledger says each order holds, per SKU (reserve rows carry the order id as their reference).
      const held = new Map<string, Record<string, number>>();
      for (const e of ledger) {
        if (e.type !== 'reserve' || !decided.has(e.reference)) continue;
        const h = held.get(e.reference) ?? {};
        h[e.sku] = (h[e.sku] ?? 0) + e.deltaReserved;
        held.set(e.reference, h);
      }
      const asked = (o: any): Record<string, number> => Object.fromEntries(o.lines.map((l: any) => [l.sku, l.quantity]));
      const sorted = (r: Record<string, number> | undefined) => JSON.stringify(r && Object.fromEntries(Object.entries(r).sort()));
      // No partial reservation: an awaiting order holds exactly what it asked for on every line, a rejected one nothing.
      expect(
        awaiting.filter((o) => sorted(held.get(o.id)) !== sorted(asked(o))).map((o) => ({ id: o.id, asked: asked(o), held: held.get(o.id) })),
      ).toEqual([]);
      expect(rejected.filter((o) => held.has(o.id)).map((o) => ({ id: o.id, held: held.get(o.id) }))).toEqual([]);

      for (const s of skus) {
        const rows = levels.filter((l) => l.sku === s);
        const demand = awaiting.reduce((n, o) => n + (asked(o)[s] ?? 0), 0);
        const total = rows.reduce((acc, l) => ({ onHand: acc.onHand + l.onHand, reserved: acc.reserved + l.reserved }), { onHand: 0, reserved: 0 });
        // No oversell: reserved is exactly what the awaiting orders hold, on hand is what was received.
        expect({ sku: s, reserved: total.reserved, available: total.onHand - total.reserved >= 0 }).toEqual({ sku: s, reserved: demand, available: true });
        for (const [locationId, quantity] of Object.entries(received[s])) {
          const row = rows.find((l) => l.locationId === locationId);
          const entries = ledger.filter((e) => e.sku === s && e.locationId === locationId);
          const sum = (k: 'delta' | 'deltaReserved') => entries.reduce((n, e) => n + e[k], 0);
          // The ledger sums to on hand (and to reserved) in every location.
          expect({ sku: s, locationId, onHand: row?.onHand, ledgerOnHand: sum('delta'), ledgerReserved: sum('deltaReserved') })
            .toEqual({ sku: s, locationId, onHand: quantity, ledgerOnHand: quantity, ledgerReserved: row?.reserved });
          expect(row?.available).toBeGreaterThanOrEqual(0);
        }
      }
      // Both locations served reservations (the first by priority, the second once the first ran short).
      for (const locationId of [locationA, locationB]) {
        expect({ locationId, reserved: levels.filter((l) => l.locationId === locationId).some((l) => l.reserved > 0) }).toEqual({ locationId, reserved: true });
      }

      // No deadlock: PostgreSQL counted none. A server process publishes its counters with a delay, up to 10 s
      // once idle, hence the wait.
      await sleep(Math.max(0, decidedAt + 11_000 - Date.now()));
      expect(await deadlocks(platform)).toBe(deadlocksBefore);
    }, 420_000);

    if (carried) it(`carried the saga's events on the ${transport} transport`, carried);

    it('answered only as the OpenAPI document describes', () => {
      expect(checker.violations).toEqual([]);
    });
  });
}

export { removeDataDir };
