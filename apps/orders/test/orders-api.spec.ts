import { randomUUID } from 'node:crypto';
import { CatalogEventTypes, InventoryEventTypes, type ReservationConfirmedV1, type ReservationRejectedV1 } from '@tessera/contracts';
import { untilLockWaiters } from '@tessera/testing';
import { envelope, expectProblem, orderBody, OrdersHarness, type Staff } from './support/orders-harness';

describe('orders HTTP API', () => {
  let h: OrdersHarness;
  let owner: Staff;

  beforeAll(async () => {
    h = await OrdersHarness.start();
    owner = h.staff('owner');
    await h.seedVariant(owner.tenantId, { sku: 'RED-1', priceAmount: 1200 });
    await h.seedVariant(owner.tenantId, { sku: 'BLUE-2', priceAmount: 350, condition: 'used' });
    await h.seedVariant(owner.tenantId, { sku: 'USD-3', priceAmount: 999, currency: 'USD' });
    await h.seedVariant(owner.tenantId, { sku: 'DRAFT-4', status: 'draft' });
  });

  afterAll(async () => {
    await h.close();
  });

  it('places an order: 202 pending, prices and stock conditions snapshotted, totals computed, history and outbox written', async () => {
    const res = await h.placeOrder(
      owner,
      orderBody([
        { sku: 'RED-1', quantity: 2 },
        { sku: 'BLUE-2', quantity: 3 },
      ], { shippingAddress: { name: 'Aiko', line1: '1-2-3 Shibuya', city: 'Tokyo', postalCode: '150-0002', country: 'JP' } }),
    );
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), status: 'pending' });

    const got = await h.getOrder(owner, res.body.id);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id: res.body.id,
      status: 'pending',
      totals: { currency: 'JPY', subtotalAmount: 2 * 1200 + 3 * 350, totalAmount: 3450 },
      paymentMethod: 'bank_transfer',
      customer: { name: 'Aiko Tanaka', email: 'aiko@example.com' },
      shippingAddress: { city: 'Tokyo', country: 'JP' },
      items: [
        { line: 0, sku: 'RED-1', quantity: 2, unitPriceAmount: 1200, lineTotalAmount: 2400, condition: 'new' },
        { line: 1, sku: 'BLUE-2', quantity: 3, unitPriceAmount: 350, lineTotalAmount: 1050, condition: 'used' },
      ],
    });
    expect(got.body.history).toEqual([
      { from: null, to: 'pending', at: expect.any(String), cause: { type: 'api', actor: `user:${owner.userId}`, eventId: null, eventType: null }, note: null },
    ]);
    expect(got.body.paymentId).toBeNull();

    const events = (await h.outbox(owner.tenantId)).filter((e) => e.subject === res.body.id);
    expect(events).toEqual([
      {
        type: 'orders.order.placed',
        subject: res.body.id,
        data: {
          orderId: res.body.id,
          items: [
            { sku: 'RED-1', quantity: 2, unitPriceAmount: 1200, condition: 'new' },
            { sku: 'BLUE-2', quantity: 3, unitPriceAmount: 350, condition: 'used' },
          ],
          currency: 'JPY',
          totalAmount: 3450,
          paymentMethod: 'bank_transfer',
          customer: { name: 'Aiko Tanaka', email: 'aiko@example.com' },
        },
      },
    ]);
  });

  it('keeps the price of the order when the catalog price changes afterwards', async () => {
    const v = await h.seedVariant(owner.tenantId, { sku: 'PRICE-5', priceAmount: 100 });
    const placed = await h.placeOrder(owner, orderBody([{ sku: 'PRICE-5', quantity: 1 }]));
    await h.catalog.onVariantUpdated(
      envelope('catalog', CatalogEventTypes.VariantUpdated, owner.tenantId, v.variantId, { ...v, priceAmount: 900, version: 2, changed: ['priceAmount'] }),
    );
    const got = await h.getOrder(owner, placed.body.id);
    expect(got.body.totals.totalAmount).toBe(100);
    const again = await h.placeOrder(owner, orderBody([{ sku: 'PRICE-5', quantity: 1 }]));
    expect((await h.getOrder(owner, again.body.id)).body.totals.totalAmount).toBe(900);
  });

  describe('bad input: 4xx problem+json and nothing changes', () => {
    const cases: [string, Record<string, unknown>, number][] = [
      ['zero quantity', orderBody([{ sku: 'RED-1', quantity: 0 }]), 400],
      ['negative quantity', orderBody([{ sku: 'RED-1', quantity: -2 }]), 400],
      ['absurd quantity', orderBody([{ sku: 'RED-1', quantity: 10_001 }]), 400],
      ['fractional quantity', orderBody([{ sku: 'RED-1', quantity: 1.5 }]), 400],
      ['quantity as a string', orderBody([{ sku: 'RED-1', quantity: '2' }] as never), 400],
      ['no items', orderBody([]), 400],
      ['more than 100 lines', orderBody(Array.from({ length: 101 }, (_, i) => ({ sku: `S-${i}`, quantity: 1 }))), 400],
      ['an unknown top-level field', orderBody([{ sku: 'RED-1', quantity: 1 }], { discount: 50 }), 400],
      ['an unknown field in a line', orderBody([{ sku: 'RED-1', quantity: 1, priceAmount: 1 } as never]), 400],
      ['an unknown field in the customer', orderBody([{ sku: 'RED-1', quantity: 1 }], { customer: { name: 'A', email: 'a@example.com', vip: true } }), 400],
      ['a bad email', orderBody([{ sku: 'RED-1', quantity: 1 }], { customer: { name: 'A', email: 'not-an-email' } }), 400],
      ['a missing customer', { items: [{ sku: 'RED-1', quantity: 1 }], paymentMethod: 'cod' }, 400],
      ['a customer that is not an object', orderBody([{ sku: 'RED-1', quantity: 1 }], { customer: 'Aiko' }), 400],
      ['a line that is not an object', orderBody(['RED-1'] as never), 400],
      ['a shipping address that is not an object', orderBody([{ sku: 'RED-1', quantity: 1 }], { shippingAddress: 'Tokyo' }), 400],
      ['an unknown payment method', orderBody([{ sku: 'RED-1', quantity: 1 }], { paymentMethod: 'iou' }), 400],
      ['a bad shipping country', orderBody([{ sku: 'RED-1', quantity: 1 }], { shippingAddress: { name: 'A', line1: 'x', city: 'y', postalCode: '1', country: 'Japan' } }), 400],
      ['a repeated SKU', orderBody([{ sku: 'RED-1', quantity: 1 }, { sku: 'RED-1', quantity: 2 }]), 400],
      ['a line nested in an array', orderBody([[{ sku: 'RED-1', quantity: 1 }]] as never), 400],
      ['an empty array as a line', orderBody([[]] as never), 400],
      ['a blank customer name', orderBody([{ sku: 'RED-1', quantity: 1 }], { customer: { name: '   ', email: 'a@example.com' } }), 400],
      ['a blank postal code', orderBody([{ sku: 'RED-1', quantity: 1 }], { shippingAddress: { name: 'A', line1: 'x', city: 'y', postalCode: ' ', country: 'JP' } }), 400],
      ['a country code no country has', orderBody([{ sku: 'RED-1', quantity: 1 }], { shippingAddress: { name: 'A', line1: 'x', city: 'y', postalCode: '1', country: 'ZZ' } }), 400],
      ['a shipping address without line1', orderBody([{ sku: 'RED-1', quantity: 1 }], { shippingAddress: { name: 'A', city: 'y', postalCode: '1', country: 'JP' } }), 400],
      ['a missing payment method', { items: [{ sku: 'RED-1', quantity: 1 }], customer: { name: 'A', email: 'a@example.com' } }, 400],
      ['items that are null', orderBody(null as never), 400],
      ['an email longer than 254 characters', orderBody([{ sku: 'RED-1', quantity: 1 }], { customer: { name: 'A', email: `${'a'.repeat(64)}@${'b'.repeat(190)}.example.com` } }), 400],
      ['an unknown SKU', orderBody([{ sku: 'RED-1', quantity: 1 }, { sku: 'NOPE-9', quantity: 1 }]), 422],
      ['a SKU that is not for sale', orderBody([{ sku: 'DRAFT-4', quantity: 1 }]), 422],
      ['lines in two currencies', orderBody([{ sku: 'RED-1', quantity: 1 }, { sku: 'USD-3', quantity: 1 }]), 422],
    ];

    it.each(cases)('refuses %s', async (_what, body, status) => {
      const before = await h.count('orders', owner.tenantId);
      const outboxBefore = (await h.outbox(owner.tenantId)).length;
      const res = await h.placeOrder(owner, body);
      expectProblem(res, status);
      expect(await h.count('orders', owner.tenantId)).toBe(before);
      expect((await h.outbox(owner.tenantId)).length).toBe(outboxBefore);
    });

    it('names the offending line and SKU of a 422', async () => {
      const res = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }, { sku: 'NOPE-9', quantity: 1 }, { sku: 'DRAFT-4', quantity: 1 }]));
      expectProblem(res, 422);
      expect(res.body.lines).toEqual([
        { index: 1, sku: 'NOPE-9', reason: 'unknown_sku' },
        { index: 2, sku: 'DRAFT-4', reason: 'not_sellable' },
      ]);
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['#/items/1/sku', '#/items/2/sku']);
      expect(res.body.detail).toContain('NOPE-9');
    });

    it('names every line of an order priced in two currencies, with its currency', async () => {
      const res = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }, { sku: 'USD-3', quantity: 1 }]));
      expectProblem(res, 422);
      expect(res.body.reason).toBe('mixed_currencies');
      expect(res.body.lines).toEqual([
        { index: 0, sku: 'RED-1', reason: 'mixed_currencies', currency: 'JPY' },
        { index: 1, sku: 'USD-3', reason: 'mixed_currencies', currency: 'USD' },
      ]);
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['#/items/0/sku', '#/items/1/sku']);
    });

    it('names the repeated line', async () => {
      const res = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }, { sku: 'BLUE-2', quantity: 1 }, { sku: 'RED-1', quantity: 2 }]));
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '#/items/2/sku' })]);
    });

    it('refuses an archived product with 422', async () => {
      const v = await h.seedVariant(owner.tenantId, { sku: 'OLD-7' });
      expect((await h.placeOrder(owner, orderBody([{ sku: 'OLD-7', quantity: 1 }]))).status).toBe(202);
      await h.catalog.onProductArchived(
        envelope('catalog', CatalogEventTypes.ProductArchived, owner.tenantId, v.productId, {
          tenantId: owner.tenantId, productId: v.productId, vendorId: null, title: 'Old', status: 'archived', version: 3, occurredAt: new Date().toISOString(),
        }),
      );
      const res = await h.placeOrder(owner, orderBody([{ sku: 'OLD-7', quantity: 1 }]));
      expectProblem(res, 422);
      expect(res.body.lines).toEqual([{ index: 0, sku: 'OLD-7', reason: 'not_sellable' }]);
    });

    it('does not sell another tenant\'s SKU', async () => {
      const other = h.staff('owner');
      const res = await h.placeOrder(other, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      expectProblem(res, 422);
      expect(res.body.lines).toEqual([{ index: 0, sku: 'RED-1', reason: 'unknown_sku' }]);
    });
  });

  describe('reading', () => {
    it('answers 404 for another tenant\'s order and an unknown id', async () => {
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      const stranger = h.staff('owner');
      expectProblem(await h.getOrder(stranger, placed.body.id), 404);
      expectProblem(await h.getOrder(owner, randomUUID()), 404);
      const cancel = await h.http.post(`/v1/orders/${placed.body.id}/cancel`).set(await h.headers(stranger)).send({});
      expectProblem(cancel, 404);
      expect((await h.getOrder(owner, placed.body.id)).body.status).toBe('pending');
    });

    it('refuses a malformed id with 400 problem+json naming the parameter, on a read and on a cancel, and changes nothing', async () => {
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      const outboxBefore = await h.outbox(owner.tenantId);
      for (const id of ['not-a-uuid', '12345', `${placed.body.id}x`]) {
        const read = await h.getOrder(owner, id);
        const cancel = await h.http.post(`/v1/orders/${id}/cancel`).set(await h.headers(owner)).send({ reason: 'typo' });
        for (const res of [read, cancel]) {
          expectProblem(res, 400);
          expect([id, res.body.detail]).toEqual([id, expect.stringMatching(/\bparameter id\b.*UUID/)]);
        }
      }
      const got = await h.getOrder(owner, placed.body.id);
      expect([got.body.status, got.body.history.length]).toEqual(['pending', 1]);
      expect(await h.outbox(owner.tenantId)).toEqual(outboxBefore);
    });

    it('cancels an order named in upper case, and announces it by its stored id', async () => {
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      const id = placed.body.id as string;
      const res = await h.http.post(`/v1/orders/${id.toUpperCase()}/cancel`).set(await h.headers(owner)).send({});
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id, status: 'cancelled' });
      expect((await h.getOrder(owner, id.toUpperCase())).body.id).toBe(id);
      const cancelled = (await h.outbox(owner.tenantId)).filter((e) => e.type === 'orders.order.cancelled' && e.subject.toLowerCase() === id);
      expect(cancelled.map((e) => [e.subject, e.data.orderId])).toEqual([[id, id]]);
    });

    it('shows an order, its items and its history as they were together, even when a change commits between the reads', async () => {
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      const id = placed.body.id as string;
      // order_history is held locked while the GET runs, so the GET has read the order (and taken its snapshot)
      // and waits on its history; a cancellation commits meanwhile.
      const locker = await h.admin.connect();
      let got: Awaited<ReturnType<typeof h.getOrder>> | undefined;
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE orders.order_history IN ACCESS EXCLUSIVE MODE');
        const reading = h.getOrder(owner, id);
        if (!(await untilLockWaiters((sql, params) => h.admin.query(sql, params).then((r) => r.rows), 1, '%order_history%'))) {
          throw new Error('the GET never waited on orders.order_history');
        }
        await locker.query(`UPDATE orders.orders SET status = 'cancelled' WHERE id = $1`, [id]);
        await locker.query(
          `INSERT INTO orders.order_history (tenant_id, order_id, from_status, to_status, cause_type, actor) VALUES ($1, $2, 'pending', 'cancelled', 'api', 'user:test')`,
          [owner.tenantId, id],
        );
        await locker.query('COMMIT');
        got = await reading;
      } finally {
        locker.release();
      }
      expect(got?.status).toBe(200);
      expect([got?.body.status, got?.body.history.map((e: { to: string }) => e.to)]).toEqual(['pending', ['pending']]);
      const after = await h.getOrder(owner, id);
      expect([after.body.status, after.body.history.map((e: { to: string }) => e.to)]).toEqual(['cancelled', ['pending', 'cancelled']]);
    });

    it('lists newest first with a cursor and a status filter', async () => {
      const t = h.staff('owner');
      await h.seedVariant(t.tenantId, { sku: 'L-1' });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await h.placeOrder(t, orderBody([{ sku: 'L-1', quantity: i + 1 }]))).body.id);
      await h.http.post(`/v1/orders/${ids[1]}/cancel`).set(await h.headers(t)).send({ reason: 'duplicate order' });

      const first = await h.http.get('/v1/orders?limit=2').set(await h.headers(t));
      expect(first.status).toBe(200);
      expect(first.body.items.map((o: { id: string }) => o.id)).toEqual([ids[4], ids[3]]);
      const second = await h.http.get(`/v1/orders?limit=2&cursor=${first.body.nextCursor}`).set(await h.headers(t));
      expect(second.body.items.map((o: { id: string }) => o.id)).toEqual([ids[2], ids[1]]);
      const third = await h.http.get(`/v1/orders?limit=2&cursor=${second.body.nextCursor}`).set(await h.headers(t));
      expect(third.body.items.map((o: { id: string }) => o.id)).toEqual([ids[0]]);
      expect(third.body.nextCursor).toBeNull();

      const cancelled = await h.http.get('/v1/orders?status=cancelled').set(await h.headers(t));
      expect(cancelled.body.items.map((o: { id: string }) => o.id)).toEqual([ids[1]]);
      expect(cancelled.body.items[0]).toMatchObject({ status: 'cancelled', totals: { currency: 'JPY', totalAmount: 3000 } });

      expectProblem(await h.http.get('/v1/orders?status=lost').set(await h.headers(t)), 400);
      expectProblem(await h.http.get('/v1/orders?limit=1000').set(await h.headers(t)), 400);
      expectProblem(await h.http.get('/v1/orders?cursor=bm9wZQ').set(await h.headers(t)), 400);
      // Cursors of the right shape whose time PostgreSQL could not cast: 400, not 500.
      const id = ids[0];
      for (const createdAt of ['2024-13-45 00:00:00+00', '2024-02-30 10:00:00+00', '2024-01-01 25:00:00+00', '2024-01-01 10:00:00+99', '2024-01-01 10:61:00+00']) {
        const cursor = Buffer.from(JSON.stringify({ createdAt, id })).toString('base64url');
        expectProblem(await h.http.get(`/v1/orders?cursor=${cursor}`).set(await h.headers(t)), 400);
      }
      const fine = Buffer.from(JSON.stringify({ createdAt: '2024-02-29 10:00:00.123456+05:30', id })).toString('base64url');
      expect((await h.http.get(`/v1/orders?cursor=${fine}`).set(await h.headers(t))).status).toBe(200);
    });
  });

  it("hands out list cursors that work whatever the database's DateStyle and TimeZone", async () => {
    // created_at::text follows the session's DateStyle ("07/12/2026 17:01:46.142175 UTC" under SQL, DMY), which the
    // cursor check then refused: every second page was a 400.
    const other = await OrdersHarness.start({ databaseSettings: { DateStyle: 'SQL, DMY', TimeZone: 'Asia/Tokyo' } });
    try {
      const t = other.staff('owner');
      await other.seedVariant(t.tenantId, { sku: 'D-1' });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await other.placeOrder(t, orderBody([{ sku: 'D-1', quantity: 1 }]))).body.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await other.http.get(`/v1/orders?limit=1${cursor ? `&cursor=${cursor}` : ''}`).set(await other.headers(t));
        expect(page.status).toBe(200);
        seen.push(...page.body.items.map((o) => o.id));
        cursor = page.body.nextCursor;
      } while (cursor && seen.length < 5);
      expect(seen).toEqual([...ids].reverse());
    } finally {
      await other.close();
    }
  });

  describe('cancel', () => {
    it('cancels a pending order, records who did it, emits orders.order.cancelled; a second cancel is 409', async () => {
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      const sales = h.staff('sales', owner.tenantId);
      const res = await h.http.post(`/v1/orders/${placed.body.id}/cancel`).set(await h.headers(sales)).send({ reason: 'customer called' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: placed.body.id, status: 'cancelled', cancelReason: 'customer called' });
      expect(res.body.history[1]).toMatchObject({ from: 'pending', to: 'cancelled', cause: { type: 'api', actor: `user:${sales.userId}` } });
      const events = (await h.outbox(owner.tenantId)).filter((e) => e.subject === placed.body.id).map((e) => e.type);
      expect(events).toEqual(['orders.order.placed', 'orders.order.cancelled']);

      const again = await h.http.post(`/v1/orders/${placed.body.id}/cancel`).set(await h.headers(owner)).send({});
      expectProblem(again, 409);
      expect(again.body.status).toBe(409);
      // The order's status is its own member: `status` is the problem's HTTP status.
      expect(again.body).toMatchObject({ reason: 'invalid_transition', orderStatus: 'cancelled' });
      expect((await h.outbox(owner.tenantId)).filter((e) => e.subject === placed.body.id)).toHaveLength(2);
    });

    it('accepts a cancel without a body and refuses unknown fields', async () => {
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      expectProblem(await h.http.post(`/v1/orders/${placed.body.id}/cancel`).set(await h.headers(owner)).send({ force: true }), 400);
      const res = await h.http.post(`/v1/orders/${placed.body.id}/cancel`).set(await h.headers(owner));
      expect(res.status).toBe(200);
      expect(res.body.cancelReason).toBe('cancelled by staff');
    });

    /** What a refused cancel must leave as it was: the order's status, its history and the tenant's outbox. */
    async function snapshot(id: string): Promise<{ status: string; history: number; outbox: number }> {
      const order = await h.getOrder(owner, id);
      expect(order.status).toBe(200);
      return { status: order.body.status, history: order.body.history.length, outbox: (await h.outbox(owner.tenantId)).length };
    }

    const badBodies: [string, unknown][] = [
      ['a reason that is a number', { reason: 42 }],
      ['a reason that is an object', { reason: { text: 'customer called' } }],
      ['a reason longer than 500 characters', { reason: 'x'.repeat(501) }],
      ['an unknown field beside a reason', { reason: 'customer called', refund: true }],
    ];

    it.each(badBodies)('refuses %s with 400 problem+json and changes nothing', async (_what, body) => {
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      const before = await snapshot(placed.body.id);
      expect(before).toMatchObject({ status: 'pending', history: 1 });
      const res = await h.http.post(`/v1/orders/${placed.body.id}/cancel`).set(await h.headers(owner)).send(body as object);
      expectProblem(res, 400);
      expect(await snapshot(placed.body.id)).toEqual(before);
    });

    it('accepts a reason of exactly 500 characters', async () => {
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      const res = await h.http.post(`/v1/orders/${placed.body.id}/cancel`).set(await h.headers(owner)).send({ reason: 'y'.repeat(500) });
      expect(res.status).toBe(200);
      expect(res.body.cancelReason).toBe('y'.repeat(500));
    });

    it('answers 400 problem+json for a malformed id, 404 for another tenant\'s order, and changes nothing', async () => {
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      const before = await snapshot(placed.body.id);
      for (const id of ['not-a-uuid', '12345', `${placed.body.id}x`]) {
        expectProblem(await h.http.post(`/v1/orders/${id}/cancel`).set(await h.headers(owner)).send({ reason: 'typo' }), 400);
      }
      const stranger = h.staff('owner');
      expectProblem(await h.http.post(`/v1/orders/${placed.body.id}/cancel`).set(await h.headers(stranger)).send({ reason: 'not mine' }), 404);
      expect(await snapshot(placed.body.id)).toEqual(before);
      expect(await h.outbox(stranger.tenantId)).toEqual([]);
    });
  });

  it('publishes its routes in /openapi.json', async () => {
    const res = await h.http.get('/openapi.json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/v1/orders', '/v1/orders/{id}', '/v1/orders/{id}/cancel']));
  });

  describe('its OpenAPI document', () => {
    interface Schema {
      $ref?: string;
      allOf?: Schema[];
      type?: string;
      format?: string;
      nullable?: boolean;
      properties?: Record<string, Schema>;
      required?: string[];
      items?: Schema;
    }
    interface Operation {
      parameters?: { name: string; in: string; required?: boolean; schema: Schema }[];
      requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
      responses: Record<string, { content: Record<string, { schema: Schema }> }>;
    }
    let doc: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };

    beforeAll(async () => {
      const res = await h.http.get('/openapi.json');
      expect(res.status).toBe(200);
      doc = res.body;
    });

    /** A schema with its $ref (or a lone allOf member, which a described $ref becomes) followed. */
    const deref = (s: Schema): Schema => {
      if (s.$ref) return deref(doc.components.schemas[s.$ref.replace('#/components/schemas/', '')]);
      return s.allOf?.length === 1 ? { ...s, ...deref(s.allOf[0]), allOf: undefined } : s;
    };
    const ok = (path: string, method: string): Schema => deref(doc.paths[path][method].responses['200'].content['application/json'].schema);
    const missing = (what: string): never => {
      throw new Error(`not documented: ${what}`);
    };
    /** A documented property's schema (or an array's items), failing the test where there is none. */
    const prop = (s: Schema, name: string): Schema => deref(deref(s).properties?.[name] ?? missing(`property ${name}`));
    const itemsOf = (s: Schema): Schema => deref(deref(s).items ?? missing('items'));
    const fields = (s: Schema) => ({ properties: Object.keys(deref(s).properties ?? {}).sort(), required: [...(deref(s).required ?? [])].sort() });

    /** Where `value` says something its schema does not: an undocumented field, a missing required one, a wrong type. */
    function mismatches(schema: Schema, value: unknown, at = '$'): string[] {
      const s = deref(schema);
      if (value === null) return s.nullable ? [] : [`${at} is null`];
      if (s.type === 'array') return Array.isArray(value) ? value.flatMap((v, i) => mismatches(itemsOf(s), v, `${at}[${i}]`)) : [`${at} is not an array`];
      if (s.type === 'object' || s.properties) {
        if (typeof value !== 'object' || Array.isArray(value)) return [`${at} is not an object`];
        const props = s.properties ?? {};
        const record = value as Record<string, unknown>;
        return [
          ...(Object.keys(props).length === 0 ? [`${at} is documented without properties`] : []),
          ...Object.keys(record).filter((k) => !(k in props)).map((k) => `${at}.${k} is not documented`),
          ...(s.required ?? []).filter((k) => !(k in record)).map((k) => `${at}.${k} is required but absent`),
          ...Object.entries(record).flatMap(([k, v]) => (k in props ? mismatches(props[k], v, `${at}.${k}`) : [])),
        ];
      }
      const type = s.type === 'integer' ? (Number.isInteger(value) ? 'integer' : typeof value) : typeof value;
      return s.type && type !== s.type ? [`${at} is ${type}, documented as ${s.type}`] : [];
    }

    it('documents the customer, shipping address, reservation and rejection reasons of an order with their fields', () => {
      const order = ok('/v1/orders/{id}', 'get');
      const summary = itemsOf(prop(ok('/v1/orders', 'get'), 'items'));
      for (const customer of [prop(order, 'customer'), prop(summary, 'customer')]) {
        expect(fields(customer)).toEqual({ properties: ['email', 'name'], required: ['email', 'name'] });
      }
      expect(fields(prop(order, 'shippingAddress'))).toEqual({
        properties: ['city', 'country', 'line1', 'line2', 'name', 'phone', 'postalCode', 'region'],
        required: ['city', 'country', 'line1', 'name', 'postalCode'],
      });
      const reservation = prop(order, 'reservation');
      expect(fields(reservation)).toEqual({ properties: ['expiresAt', 'id'], required: ['expiresAt', 'id'] });
      expect(prop(reservation, 'id')).toMatchObject({ type: 'string', format: 'uuid' });
      expect(prop(reservation, 'expiresAt')).toMatchObject({ type: 'string', format: 'date-time', nullable: true });
      const reasons = prop(order, 'rejectionReasons');
      expect(reasons.type).toBe('array');
      expect(fields(itemsOf(reasons))).toEqual({ properties: ['available', 'line', 'reason', 'requested', 'sku'], required: ['reason', 'sku'] });
      for (const n of ['line', 'requested', 'available']) expect(prop(itemsOf(reasons), n)).toMatchObject({ type: 'integer' });
      // Always present: an absent address, reservation, rejection or payment is null, as in every service's views.
      for (const name of ['customer', 'shippingAddress', 'reservation', 'rejectionReasons', 'cancelReason', 'paymentId']) {
        expect([name, order.required?.includes(name) ?? false]).toEqual([name, true]);
        if (name !== 'customer') expect([name, order.properties?.[name]?.nullable]).toEqual([name, true]);
      }
    });

    it('documents every field a real order answers with, and each it must have', async () => {
      const address = { name: 'Aiko', line1: '1-2-3 Shibuya', line2: 'Apt 4', city: 'Tokyo', region: 'Tokyo', postalCode: '150-0002', country: 'JP', phone: '+81 3 0000 0000' };
      const awaiting = (await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }], { shippingAddress: address }))).body.id;
      const reservationId = randomUUID();
      const confirmed: ReservationConfirmedV1 = {
        reservationId,
        reference: awaiting,
        lines: [{ sku: 'RED-1', quantity: 1, condition: 'new' }],
        allocations: [],
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      };
      await h.saga.onReservationConfirmed(envelope('inventory', InventoryEventTypes.ReservationConfirmed, owner.tenantId, reservationId, confirmed, awaiting));

      const rejected: string[] = [];
      for (const shortfalls of [[{ sku: 'BLUE-2', condition: 'used' as const, requested: 2, available: 0 }], []]) {
        const id = (await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }, { sku: 'BLUE-2', quantity: 2 }]))).body.id;
        const data: ReservationRejectedV1 = { reservationId: randomUUID(), reference: id, lines: [], shortfalls };
        await h.saga.onReservationRejected(envelope('inventory', InventoryEventTypes.ReservationRejected, owner.tenantId, data.reservationId, data, id));
        rejected.push(id);
      }

      const orders = await Promise.all([awaiting, ...rejected].map(async (id) => (await h.getOrder(owner, id)).body));
      expect(orders.map((o) => o.status)).toEqual(['awaiting_payment', 'rejected', 'rejected']);
      expect(orders[0]).toMatchObject({ shippingAddress: address, reservation: { id: reservationId } });
      expect(orders[1].rejectionReasons).toEqual([expect.objectContaining({ sku: 'BLUE-2', line: 1, requested: 2, available: 0 })]);
      expect(orders[2].rejectionReasons).toEqual([{ sku: '*', reason: expect.any(String) }]);
      expect(orders.flatMap((o, i) => mismatches(ok('/v1/orders/{id}', 'get'), o, `order ${i}`))).toEqual([]);
      const list = (await h.http.get('/v1/orders').set(await h.headers(owner))).body;
      expect(mismatches(ok('/v1/orders', 'get'), list)).toEqual([]);
    });

    it('documents the cancel body as optional and every order id path parameter as a UUID', () => {
      const cancelBody = doc.paths['/v1/orders/{id}/cancel'].post.requestBody;
      expect(cancelBody?.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CancelOrderDto' });
      expect(cancelBody?.required).toBe(false);
      const withId = Object.entries(doc.paths).filter(([path]) => path.includes('{id}'));
      expect(withId.map(([path]) => path).sort()).toEqual(['/v1/orders/{id}', '/v1/orders/{id}/cancel']);
      for (const [path, operations] of withId) {
        for (const [method, op] of Object.entries(operations)) {
          const id = op.parameters?.find((p) => p.name === 'id');
          expect([method, path, id]).toEqual([method, path, expect.objectContaining({ in: 'path', required: true, schema: { type: 'string', format: 'uuid' } })]);
        }
      }
    });
  });

  describe('access', () => {
    it('refuses callers without a context (401), anonymous callers (401) and roles that may not write (403)', async () => {
      expectProblem(await h.http.post('/v1/orders').send(orderBody([{ sku: 'RED-1', quantity: 1 }])), 401);
      const anon = await h.http.get('/v1/orders').set(await h.headers({ principalType: 'anonymous' }));
      expectProblem(anon, 401);
      const viewer = h.staff('viewer', owner.tenantId);
      expectProblem(await h.placeOrder(viewer, orderBody([{ sku: 'RED-1', quantity: 1 }])), 403);
      expect((await h.http.get('/v1/orders').set(await h.headers(viewer))).status).toBe(200);
      const client = h.staff('client', owner.tenantId);
      expectProblem(await h.http.get('/v1/orders').set(await h.headers(client)), 403);
    });

    it.each(['viewer', 'picker', 'client', 'project_manager'] as const)('refuses a cancel by a %s (403) and changes nothing', async (role) => {
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      const outboxBefore = (await h.outbox(owner.tenantId)).length;
      const res = await h.http.post(`/v1/orders/${placed.body.id}/cancel`).set(await h.headers(h.staff(role, owner.tenantId))).send({ reason: 'nope' });
      expectProblem(res, 403);
      const got = await h.getOrder(owner, placed.body.id);
      expect(got.body.status).toBe('pending');
      expect(got.body.history).toHaveLength(1);
      expect((await h.outbox(owner.tenantId)).length).toBe(outboxBefore);
    });

    it('refuses a cancel by an API key without orders:write (403) and changes nothing; one with it may cancel', async () => {
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      const outboxBefore = (await h.outbox(owner.tenantId)).length;
      const key = (scopes: string[]) => ({ tenantId: owner.tenantId, principalId: randomUUID(), principalType: 'api_key' as const, scopes });
      for (const scopes of [['orders:read'], ['inventory:write', 'billing:write'], []]) {
        expectProblem(await h.http.post(`/v1/orders/${placed.body.id}/cancel`).set(await h.headers(key(scopes))).send({ reason: 'nope' }), 403);
      }
      const got = await h.getOrder(owner, placed.body.id);
      expect(got.body.status).toBe('pending');
      expect(got.body.history).toHaveLength(1);
      expect((await h.outbox(owner.tenantId)).length).toBe(outboxBefore);

      const allowed = await h.http.post(`/v1/orders/${placed.body.id}/cancel`).set(await h.headers(key(['orders:write']))).send({ reason: 'by key' });
      expect(allowed.status).toBe(200);
      expect(allowed.body).toMatchObject({ status: 'cancelled', cancelReason: 'by key' });
    });

    it('refuses reading an order to roles and keys outside the readers (403)', async () => {
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'RED-1', quantity: 1 }]));
      for (const role of ['client', 'project_manager'] as const) {
        const res = await h.getOrder(h.staff(role, owner.tenantId), placed.body.id);
        expectProblem(res, 403);
        expect(res.body.id).toBeUndefined();
      }
      const key = { tenantId: owner.tenantId, principalId: randomUUID(), principalType: 'api_key' as const, scopes: ['inventory:read'] };
      expectProblem(await h.http.get(`/v1/orders/${placed.body.id}`).set(await h.headers(key)), 403);
      expect((await h.getOrder(h.staff('picker', owner.tenantId), placed.body.id)).status).toBe(200);
    });

    it('lets an API key with orders:write place orders', async () => {
      const key = { tenantId: owner.tenantId, principalId: randomUUID(), principalType: 'api_key' as const, scopes: ['orders:write'] };
      const res = await h.http.post('/v1/orders').set(await h.headers(key)).send(orderBody([{ sku: 'BLUE-2', quantity: 1 }]));
      expect(res.status).toBe(202);
    });
  });
});
