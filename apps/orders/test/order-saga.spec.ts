import { randomUUID } from 'node:crypto';
import {
  BillingEventTypes,
  CatalogEventTypes,
  InventoryEventTypes,
  type PaymentConfirmedV1,
  type PaymentCreatedV1,
  type ReservationCommitRefusedV1,
  type ReservationConfirmedV1,
  type ReservationExpiredV1,
  type ReservationRejectedV1,
  type EventEnvelope,
} from '@tessera/contracts';
import { Inbox } from '@tessera/messaging';
import { untilLockWaiters } from '@tessera/testing';
import { OrderStore } from '../src/orders/order-store';
import { envelope, orderBody, OrdersHarness, type Staff } from './support/orders-harness';

describe('order saga handlers (through the inbox)', () => {
  let h: OrdersHarness;
  let owner: Staff;

  beforeAll(async () => {
    h = await OrdersHarness.start();
    owner = h.staff('owner');
    await h.seedVariant(owner.tenantId, { sku: 'A-1', priceAmount: 1000 });
    await h.seedVariant(owner.tenantId, { sku: 'B-2', priceAmount: 250 });
  });

  afterAll(async () => {
    await h.close();
  });

  async function place(): Promise<string> {
    const res = await h.placeOrder(owner, orderBody([{ sku: 'A-1', quantity: 2 }, { sku: 'B-2', quantity: 4 }]));
    expect(res.status).toBe(202);
    return res.body.id;
  }

  const order = async (id: string) => (await h.getOrder(owner, id)).body;
  const eventsOf = async (id: string) => (await h.outbox(owner.tenantId)).filter((e) => e.subject === id);

  function confirmed(orderId: string, reservationId = randomUUID()) {
    const data: ReservationConfirmedV1 = {
      reservationId,
      reference: orderId,
      lines: [{ sku: 'A-1', quantity: 2, condition: 'new' }, { sku: 'B-2', quantity: 4, condition: 'new' }],
      allocations: [],
      expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
    };
    return envelope('inventory', InventoryEventTypes.ReservationConfirmed, owner.tenantId, reservationId, data, orderId);
  }
  function expired(orderId: string, reservationId: string) {
    const data: ReservationExpiredV1 = { reservationId, reference: orderId, allocations: [] };
    return envelope('inventory', InventoryEventTypes.ReservationExpired, owner.tenantId, reservationId, data, orderId);
  }
  function paymentCreated(orderId: string, paymentId = randomUUID(), retryOf: string | null = null) {
    const data: PaymentCreatedV1 = {
      paymentId,
      orderId,
      attempt: retryOf ? 2 : 1,
      retryOf,
      amount: 3000,
      currency: 'JPY',
      method: 'bank_transfer',
      dueAt: null,
    };
    return envelope('billing', BillingEventTypes.PaymentCreated, owner.tenantId, paymentId, data, orderId);
  }
  function paymentConfirmed(orderId: string, paymentId: string, refundRequired = false) {
    const data: PaymentConfirmedV1 = { paymentId, orderId, amount: 3000, currency: 'JPY', refundRequired };
    return envelope('billing', BillingEventTypes.PaymentConfirmed, owner.tenantId, paymentId, data, orderId);
  }
  function commitRefused(orderId: string, reservationId: string) {
    const data: ReservationCommitRefusedV1 = {
      reservationId,
      reference: orderId,
      reason: 'expired',
      shortfalls: [{ sku: 'A-1', condition: 'new', requested: 2, available: 1 }],
    };
    return envelope('inventory', InventoryEventTypes.ReservationCommitRefused, owner.tenantId, reservationId, data, orderId);
  }

  it('runs the happy path: pending → awaiting_payment → paid, with history and outbox events', async () => {
    const id = await place();
    const reservation = confirmed(id);
    await h.saga.onReservationConfirmed(reservation);
    let o = await order(id);
    expect(o.status).toBe('awaiting_payment');
    expect(o.reservation).toEqual({ id: reservation.data.reservationId, expiresAt: reservation.data.expiresAt });

    const created = paymentCreated(id);
    await h.saga.onPaymentCreated(created);
    expect((await order(id)).paymentId).toBe(created.data.paymentId);

    const paid = paymentConfirmed(id, created.data.paymentId);
    await h.saga.onPaymentConfirmed(paid);
    o = await order(id);
    expect(o.status).toBe('paid');
    expect(o.history.map((e: any) => [e.from, e.to, e.cause.type, e.cause.eventType ?? null])).toEqual([
      [null, 'pending', 'api', null],
      ['pending', 'awaiting_payment', 'event', InventoryEventTypes.ReservationConfirmed],
      ['awaiting_payment', null, 'event', BillingEventTypes.PaymentCreated],
      ['awaiting_payment', 'paid', 'event', BillingEventTypes.PaymentConfirmed],
    ]);
    expect(o.history[1].cause.eventId).toBe(reservation.id);
    expect(o.history[3].cause.eventId).toBe(paid.id);

    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual(['orders.order.placed', 'orders.order.awaiting_payment', 'orders.order.paid']);
    expect(events[1].data).toEqual({
      orderId: id,
      totalAmount: 3000,
      currency: 'JPY',
      paymentMethod: 'bank_transfer',
      reservationId: reservation.data.reservationId,
      expiresAt: reservation.data.expiresAt,
    });
    expect(events[2].data).toEqual({ orderId: id, paymentId: created.data.paymentId });
  });

  it('absorbs duplicates: the same events delivered again change nothing', async () => {
    const id = await place();
    const reservation = confirmed(id);
    const created = paymentCreated(id);
    const paid = paymentConfirmed(id, created.data.paymentId);
    for (const round of [1, 2, 3]) {
      await h.saga.onReservationConfirmed(reservation);
      await h.saga.onPaymentCreated(created);
      await h.saga.onPaymentConfirmed(paid);
      const o = await order(id);
      expect([round, o.status, o.history.length]).toEqual([round, 'paid', 4]);
      expect((await eventsOf(id)).length).toBe(3);
    }
  });

  it('rejects with a reason per line and emits orders.order.rejected', async () => {
    const id = await place();
    const data: ReservationRejectedV1 = {
      reservationId: randomUUID(),
      reference: id,
      lines: [{ sku: 'A-1', quantity: 2, condition: 'new' }, { sku: 'B-2', quantity: 4, condition: 'new' }],
      shortfalls: [{ sku: 'B-2', condition: 'new', requested: 4, available: 1 }],
    };
    await h.saga.onReservationRejected(envelope('inventory', InventoryEventTypes.ReservationRejected, owner.tenantId, data.reservationId, data, id));
    const o = await order(id);
    expect(o.status).toBe('rejected');
    expect(o.rejectionReasons).toEqual([{ sku: 'B-2', line: 1, requested: 4, available: 1, reason: 'insufficient stock: 4 requested, 1 available' }]);
    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual(['orders.order.placed', 'orders.order.rejected']);
    expect(events[1].data).toEqual({ orderId: id, reservationId: data.reservationId, reasons: o.rejectionReasons });

    // A late confirmation (another event id) cannot revive a rejected order.
    await h.saga.onReservationConfirmed(confirmed(id));
    expect((await order(id)).status).toBe('rejected');
    expect((await eventsOf(id)).length).toBe(2);
  });

  it('expires an unpaid order; a payment confirmed afterwards leaves it expired and is noted for refund', async () => {
    const id = await place();
    const reservation = confirmed(id);
    await h.saga.onReservationConfirmed(reservation);
    const created = paymentCreated(id);
    await h.saga.onPaymentCreated(created);
    await h.saga.onReservationExpired(expired(id, reservation.data.reservationId));
    expect((await order(id)).status).toBe('expired');

    await h.saga.onPaymentConfirmed(paymentConfirmed(id, created.data.paymentId));
    const o = await order(id);
    expect(o.status).toBe('expired');
    expect(o.history[o.history.length - 1]).toMatchObject({ from: 'expired', to: null, note: expect.stringContaining('refund') });
    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual(['orders.order.placed', 'orders.order.awaiting_payment', 'orders.order.expired']);
    expect(events[2].data).toEqual({ orderId: id, reservationId: reservation.data.reservationId, paymentId: created.data.paymentId });
  });

  it('cancels an awaiting order through the API; late payment and expiry events then change nothing but the history', async () => {
    const id = await place();
    const reservation = confirmed(id);
    await h.saga.onReservationConfirmed(reservation);
    const created = paymentCreated(id);
    await h.saga.onPaymentCreated(created);
    const res = await h.http.post(`/v1/orders/${id}/cancel`).set(await h.headers(owner)).send({ reason: 'out of time' });
    expect(res.status).toBe(200);
    const cancelledEvent = (await eventsOf(id)).find((e) => e.type === 'orders.order.cancelled');
    expect(cancelledEvent?.data).toEqual({
      orderId: id,
      reason: 'out of time',
      previousStatus: 'awaiting_payment',
      reservationId: reservation.data.reservationId,
      paymentId: created.data.paymentId,
    });

    await h.saga.onPaymentConfirmed(paymentConfirmed(id, created.data.paymentId));
    await h.saga.onReservationExpired(expired(id, reservation.data.reservationId));
    const o = await order(id);
    expect(o.status).toBe('cancelled');
    expect(o.history.slice(-2).map((e: any) => [e.from, e.to])).toEqual([['cancelled', null], ['cancelled', null]]);
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(['orders.order.placed', 'orders.order.awaiting_payment', 'orders.order.cancelled']);
  });

  it('expires a pending order whose reservation expiry overtook the confirmation; the late confirmation changes nothing', async () => {
    const id = await place();
    const reservation = confirmed(id);
    await h.saga.onReservationExpired(expired(id, reservation.data.reservationId));
    expect((await order(id)).status).toBe('expired');
    await h.saga.onReservationConfirmed(reservation);
    const o = await order(id);
    expect(o.status).toBe('expired');
    expect(o.history.map((e: any) => [e.from, e.to])).toEqual([[null, 'pending'], ['pending', 'expired'], ['expired', null]]);
    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual(['orders.order.placed', 'orders.order.expired']);
    expect(events[1].data).toEqual({ orderId: id, reservationId: reservation.data.reservationId, paymentId: null });
  });

  it('keeps a cancelled pending order cancelled when the reservation is confirmed afterwards (reordered)', async () => {
    const id = await place();
    expect((await h.http.post(`/v1/orders/${id}/cancel`).set(await h.headers(owner)).send({})).status).toBe(200);
    await h.saga.onReservationConfirmed(confirmed(id));
    const o = await order(id);
    expect(o.status).toBe('cancelled');
    expect(o.reservation).toBeNull();
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(['orders.order.placed', 'orders.order.cancelled']);
  });

  it('records a failed payment in the history and keeps waiting for payment', async () => {
    const id = await place();
    await h.saga.onReservationConfirmed(confirmed(id));
    const created = paymentCreated(id);
    await h.saga.onPaymentCreated(created);
    await h.saga.onPaymentFailed(
      envelope('billing', BillingEventTypes.PaymentFailed, owner.tenantId, created.data.paymentId, { paymentId: created.data.paymentId, orderId: id, reason: 'card declined' }, id),
    );
    const o = await order(id);
    expect(o.status).toBe('awaiting_payment');
    expect(o.history[o.history.length - 1]).toMatchObject({ from: 'awaiting_payment', to: null, note: expect.stringContaining('card declined') });
    // Staff can still cancel it (or the reservation expires), which releases the stock.
    expect((await h.http.post(`/v1/orders/${id}/cancel`).set(await h.headers(owner)).send({})).status).toBe(200);
    expect((await order(id)).status).toBe('cancelled');
  });

  it('takes a retried payment as the order\'s payment once the one it retries failed, and is paid by it; any other second payment is ignored', async () => {
    const id = await place();
    await h.saga.onReservationConfirmed(confirmed(id));
    const first = paymentCreated(id);
    await h.saga.onPaymentCreated(first);
    await h.saga.onPaymentFailed(
      envelope('billing', BillingEventTypes.PaymentFailed, owner.tenantId, first.data.paymentId, { paymentId: first.data.paymentId, orderId: id, reason: 'card declined' }, id),
    );
    // A payment that names no failed payment of this order is not its payment.
    await h.saga.onPaymentCreated(paymentCreated(id, randomUUID(), randomUUID()));
    expect((await order(id)).paymentId).toBe(first.data.paymentId);
    const retry = paymentCreated(id, randomUUID(), first.data.paymentId);
    await h.saga.onPaymentCreated(retry);
    await h.saga.onPaymentCreated(retry);
    let o = await order(id);
    expect(o.paymentId).toBe(retry.data.paymentId);
    expect(o.history.filter((e: any) => String(e.note).includes('attempt 2'))).toHaveLength(1); // the redelivery changed nothing
    await h.saga.onPaymentConfirmed(paymentConfirmed(id, retry.data.paymentId));
    o = await order(id);
    expect(o.status).toBe('paid');
    expect((await eventsOf(id)).pop()).toMatchObject({ type: 'orders.order.paid', data: { orderId: id, paymentId: retry.data.paymentId } });
  });

  it('ignores an expiry after payment (paid wins) and a payment confirmed before reservation (pending stays)', async () => {
    const id = await place();
    const paymentId = randomUUID();
    await h.saga.onPaymentConfirmed(paymentConfirmed(id, paymentId));
    expect((await order(id)).status).toBe('pending');
    const reservation = confirmed(id);
    await h.saga.onReservationConfirmed(reservation);
    await h.saga.onPaymentConfirmed(paymentConfirmed(id, paymentId));
    await h.saga.onReservationExpired(expired(id, reservation.data.reservationId));
    const o = await order(id);
    expect(o.status).toBe('paid');
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(['orders.order.placed', 'orders.order.awaiting_payment', 'orders.order.paid']);
  });

  it('expires a paid order whose stock inventory could not commit after a late payment, once, announcing it from paid', async () => {
    const id = await place();
    const reservation = confirmed(id);
    await h.saga.onReservationConfirmed(reservation);
    const created = paymentCreated(id);
    await h.saga.onPaymentCreated(created);
    await h.saga.onPaymentConfirmed(paymentConfirmed(id, created.data.paymentId));
    await h.saga.onReservationExpired(expired(id, reservation.data.reservationId));
    expect((await order(id)).status).toBe('paid');
    const refused = commitRefused(id, reservation.data.reservationId);
    await h.saga.onReservationCommitRefused(refused);
    await h.saga.onReservationCommitRefused(refused);
    await h.saga.onReservationCommitRefused(commitRefused(id, reservation.data.reservationId));
    const o = await order(id);
    expect(o.status).toBe('expired');
    expect(o.history.filter((t: { to: string | null }) => t.to === 'expired')).toEqual([
      expect.objectContaining({ from: 'paid', to: 'expired', cause: expect.objectContaining({ eventId: refused.id }) }),
    ]);
    expect(o.history.some((t: { note?: string }) => /stock is gone \(A-1: 2 needed, 1 available\); refund due/.test(t.note ?? ''))).toBe(true);
    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual([
      'orders.order.placed', 'orders.order.awaiting_payment', 'orders.order.paid', 'orders.order.expired',
    ]);
    expect(events[3].data).toEqual({ orderId: id, reservationId: reservation.data.reservationId, paymentId: created.data.paymentId, previousStatus: 'paid' });
  });

  it('ignores a refused commit unless the order is paid with that reservation', async () => {
    const id = await place();
    const reservation = confirmed(id);
    await h.saga.onReservationConfirmed(reservation);
    await h.saga.onReservationCommitRefused(commitRefused(id, reservation.data.reservationId));
    expect((await order(id)).status).toBe('awaiting_payment');
    const paymentId = randomUUID();
    await h.saga.onPaymentConfirmed(paymentConfirmed(id, paymentId));
    await h.saga.onReservationCommitRefused(commitRefused(id, randomUUID()));
    expect((await order(id)).status).toBe('paid');
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(['orders.order.placed', 'orders.order.awaiting_payment', 'orders.order.paid']);
  });

  it('does not move an order to paid on a confirmation that billing already flagged for refund', async () => {
    const id = await place();
    await h.saga.onReservationConfirmed(confirmed(id));
    await h.saga.onPaymentConfirmed(paymentConfirmed(id, randomUUID(), true));
    const o = await order(id);
    expect(o.status).toBe('awaiting_payment');
    expect(o.history[o.history.length - 1]).toMatchObject({ to: null, note: expect.stringContaining('refund due') });
    expect((await eventsOf(id)).map((e) => e.type)).toEqual(['orders.order.placed', 'orders.order.awaiting_payment']);
  });

  it('parks events about unknown orders and skips references that are not orders, without throwing', async () => {
    const ghost = randomUUID();
    await expect(h.saga.onReservationConfirmed(confirmed(ghost))).resolves.toBeUndefined();
    await expect(h.saga.onPaymentCreated(paymentCreated(ghost))).resolves.toBeUndefined();
    const { rows } = await h.admin.query('SELECT order_ref, type FROM orders.parked_events WHERE tenant_id = $1 ORDER BY parked_at', [owner.tenantId]);
    expect(rows).toEqual([
      { order_ref: ghost, type: InventoryEventTypes.ReservationConfirmed },
      { order_ref: ghost, type: BillingEventTypes.PaymentCreated },
    ]);
    const cart = confirmed(ghost);
    cart.data.reference = 'cart:42';
    await expect(h.saga.onReservationConfirmed(cart)).resolves.toBeUndefined();
    expect(await h.count('parked_events', owner.tenantId)).toBe(2);
    const processed = await h.admin.query('SELECT 1 FROM orders.processed_events WHERE event_id = $1', [cart.id]);
    expect(processed.rowCount).toBe(1);
  });

  /** Each saga handler by the event type it is wired to, as the consumer dispatches them. */
  const dispatch: Record<string, (e: any) => Promise<void>> = {
    [InventoryEventTypes.ReservationConfirmed]: (e) => h.saga.onReservationConfirmed(e),
    [InventoryEventTypes.ReservationExpired]: (e) => h.saga.onReservationExpired(e),
    [InventoryEventTypes.ReservationCommitRefused]: (e) => h.saga.onReservationCommitRefused(e),
    [BillingEventTypes.PaymentCreated]: (e) => h.saga.onPaymentCreated(e),
    [BillingEventTypes.PaymentConfirmed]: (e) => h.saga.onPaymentConfirmed(e),
  };
  /** The events handled in order in one inbox transaction, as the consumer handles a partition's batch. */
  const inOneBatch = (batch: EventEnvelope[]) =>
    h.app.get(Inbox).runBatch(
      async () => {
        for (const e of batch) await dispatch[e.type](e);
      },
      { events: batch },
    );

  it('locks the orders of a batch of several tenants in one order, so two batches naming the same orders cannot deadlock', async () => {
    // Two tenants, an order each; tenant `first` sorts before `second`.
    const [first, second] = [h.staff('owner'), h.staff('owner')].sort((x, y) => (x.tenantId < y.tenantId ? -1 : 1));
    const ids: string[] = [];
    for (const who of [first, second]) {
      await h.seedVariant(who.tenantId, { sku: 'A-1', priceAmount: 1000 });
      await h.seedVariant(who.tenantId, { sku: 'B-2', priceAmount: 250 });
      const res = await h.placeOrder(who, orderBody([{ sku: 'A-1', quantity: 2 }, { sku: 'B-2', quantity: 4 }]));
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    const [a, b] = ids;
    const inTenant = (e: EventEnvelope, tenantId: string) => ({ ...e, tenantid: tenantId });
    // The inventory events of both orders in one transaction, the second tenant's first; their billing events in
    // another, the first tenant's first (a consumer transaction joins partitions' batches in any order).
    const inventoryBatch = [inTenant(confirmed(b), second.tenantId), inTenant(confirmed(a), first.tenantId)];
    const billingBatch = [inTenant(paymentCreated(a), first.tenantId), inTenant(paymentCreated(b), second.tenantId)];
    // A deadlock does not show in the outcome (the inbox redoes a failed batch event by event): it shows here.
    const failures: string[] = [];
    const original = OrderStore.lockMany.bind(OrderStore);
    const lockMany = jest.spyOn(OrderStore, 'lockMany').mockImplementation(async (...args) => {
      try {
        return await original(...args);
      } catch (e) {
        failures.push((e as { code?: string }).code ?? String(e));
        throw e;
      }
    });
    // Both orders held by someone else, so that both transactions have taken their first lock before either goes on.
    const holder = await h.admin.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM orders.orders WHERE id = ANY($1::uuid[]) FOR UPDATE', [ids]);
      const batches = [inOneBatch(inventoryBatch), inOneBatch(billingBatch)];
      expect(await untilLockWaiters((sql, params) => h.admin.query(sql, params).then((r) => r.rows), 2)).toBe(true);
      await holder.query('COMMIT');
      await Promise.all(batches);
    } finally {
      holder.release();
      lockMany.mockRestore();
    }
    expect(failures).toEqual([]);
    for (const [who, id] of [[first, a], [second, b]] as const) expect((await h.getOrder(who, id)).body.status).toBe('awaiting_payment');
  });

  it('does not let an event of another tenant touch an order', async () => {
    const id = await place();
    const foreign = confirmed(id);
    foreign.tenantid = randomUUID();
    await h.saga.onReservationConfirmed(foreign);
    expect((await order(id)).status).toBe('pending');
  });

  it('applies a batch of events in one transaction as it applies them one by one, locking its orders at once', async () => {
    const [paid, expiring, pending] = [await place(), await place(), await place()];
    const reservation = confirmed(expiring);
    const created = paymentCreated(paid);
    const foreign = confirmed(pending);
    foreign.tenantid = randomUUID();
    const ghost = randomUUID();
    // Several events about one order, in order: each must see what the one before it did in the same transaction.
    const batch: EventEnvelope[] = [
      confirmed(paid),
      reservation,
      created,
      paymentConfirmed(paid, created.data.paymentId),
      expired(expiring, reservation.data.reservationId),
      confirmed(ghost),
      foreign,
    ];
    const lockMany = jest.spyOn(OrderStore, 'lockMany');
    try {
      await inOneBatch(batch);
      // One statement for the owner's orders, one for the foreign tenant's (which sees none of them).
      expect(lockMany).toHaveBeenCalledTimes(2);
    } finally {
      lockMany.mockRestore();
    }

    const o = await order(paid);
    expect([o.status, o.paymentId]).toEqual(['paid', created.data.paymentId]);
    expect(o.history.map((e: any) => [e.from, e.to])).toEqual([
      [null, 'pending'],
      ['pending', 'awaiting_payment'],
      ['awaiting_payment', null],
      ['awaiting_payment', 'paid'],
    ]);
    const e = await order(expiring);
    expect(e.status).toBe('expired');
    expect(e.history.map((x: any) => x.to)).toEqual(['pending', 'awaiting_payment', 'expired']);
    expect((await order(pending)).status).toBe('pending');
    expect((await eventsOf(paid)).map((x) => x.type)).toEqual(['orders.order.placed', 'orders.order.awaiting_payment', 'orders.order.paid']);
    expect((await eventsOf(expiring)).map((x) => x.type)).toEqual(['orders.order.placed', 'orders.order.awaiting_payment', 'orders.order.expired']);
    const parked = await h.admin.query('SELECT 1 FROM orders.parked_events WHERE order_ref = $1', [ghost]);
    expect(parked.rowCount).toBe(1);

    // Delivered again, one by one: every event is a duplicate and nothing moves.
    for (const x of batch) await dispatch[x.type](x);
    expect((await order(paid)).history).toHaveLength(4);
    expect((await order(expiring)).history).toHaveLength(3);
  });

  it("does not hand an order locked for one tenant's event to another tenant's event naming it in the same batch", async () => {
    const id = await place();
    const foreign = paymentCreated(id);
    foreign.tenantid = randomUUID();
    const batch: EventEnvelope[] = [confirmed(id), foreign];
    await inOneBatch(batch);
    const o = await order(id);
    expect(o.status).toBe('awaiting_payment');
    expect(o.paymentId ?? null).toBeNull();
    expect(o.history.map((e: any) => [e.from, e.to])).toEqual([
      [null, 'pending'],
      ['pending', 'awaiting_payment'],
    ]);
  });

  it('a refused commit behind another order\'s event in one batch still expires its paid order', async () => {
    const [paid, other] = [await place(), await place()];
    const parkedBefore = await h.count('parked_events', owner.tenantId);
    const reservation = confirmed(paid);
    await h.saga.onReservationConfirmed(reservation);
    const created = paymentCreated(paid);
    await h.saga.onPaymentCreated(created);
    await h.saga.onPaymentConfirmed(paymentConfirmed(paid, created.data.paymentId));
    const refused = commitRefused(paid, reservation.data.reservationId);
    // The batch's first event locks the orders its events name; the refusal must be among them.
    const batch: EventEnvelope[] = [confirmed(other), refused];
    await inOneBatch(batch);
    expect((await order(paid)).status).toBe('expired');
    expect((await order(other)).status).toBe('awaiting_payment');
    expect(await h.count('parked_events', owner.tenantId)).toBe(parkedBefore);
  });

  it('serializes a staff cancel racing a payment confirmation: exactly one wins', async () => {
    for (let i = 0; i < 5; i++) {
      const id = await place();
      await h.saga.onReservationConfirmed(confirmed(id));
      const created = paymentCreated(id);
      await h.saga.onPaymentCreated(created);
      const [cancel] = await Promise.all([
        h.http.post(`/v1/orders/${id}/cancel`).set(await h.headers(owner)).send({}),
        h.saga.onPaymentConfirmed(paymentConfirmed(id, created.data.paymentId)),
      ]);
      const o = await order(id);
      const types = (await eventsOf(id)).map((e) => e.type);
      if (o.status === 'paid') {
        expect(cancel.status).toBe(409);
        expect(types).toEqual(['orders.order.placed', 'orders.order.awaiting_payment', 'orders.order.paid']);
      } else {
        expect(o.status).toBe('cancelled');
        expect(cancel.status).toBe(200);
        expect(types).toEqual(['orders.order.placed', 'orders.order.awaiting_payment', 'orders.order.cancelled']);
      }
    }
  });

  describe('catalog read model', () => {
    it('keeps the newest version whatever the delivery order', async () => {
      const v = await h.seedVariant(owner.tenantId, { sku: 'V-9', priceAmount: 500, version: 3 });
      await h.catalog.onVariantUpdated(
        envelope('catalog', CatalogEventTypes.VariantUpdated, owner.tenantId, v.variantId, { ...v, priceAmount: 100, version: 2, changed: ['priceAmount'] }),
      );
      const res = await h.placeOrder(owner, orderBody([{ sku: 'V-9', quantity: 1 }]));
      expect((await order(res.body.id)).totals.totalAmount).toBe(500);
      await h.catalog.onVariantUpdated(
        envelope('catalog', CatalogEventTypes.VariantUpdated, owner.tenantId, v.variantId, { ...v, status: 'archived', version: 4, changed: ['status'] }),
      );
      expect((await h.placeOrder(owner, orderBody([{ sku: 'V-9', quantity: 1 }]))).status).toBe(422);
    });

    it('applies a variant event whose times PostgreSQL could not read, with the time it arrived, instead of failing it forever', async () => {
      const v = await h.seedVariant(owner.tenantId, { sku: 'V-TIME', occurredAt: '1' });
      await h.catalog.onVariantUpdated({
        ...envelope('catalog', CatalogEventTypes.VariantUpdated, owner.tenantId, v.variantId, { ...v, priceAmount: 700, version: 2, occurredAt: '2026-13-45T00:00:00Z', changed: ['priceAmount'] }),
        time: 'yesterday',
      });
      const res = await h.placeOrder(owner, orderBody([{ sku: 'V-TIME', quantity: 1 }]));
      expect(res.status).toBe(202);
      expect((await order(res.body.id)).totals.totalAmount).toBe(700);
    });

    it("takes the catalog's republish (catalog:republish: the current state, version not bumped, changed: []): an equal or older version changes nothing, a missing row is created", async () => {
      const republished = <T extends { version: number }>(type: string, subject: string, data: T, partitionKey: string) =>
        envelope('catalog', type, owner.tenantId, subject, { ...data, changed: [] }, partitionKey);
      const rowOf = async (variantId: string) =>
        (await h.admin.query(`SELECT sku, price_amount::int AS price, status, version FROM orders.variants WHERE variant_id = $1`, [variantId])).rows;
      const productRow = async (productId: string) =>
        (await h.admin.query(`SELECT status, version FROM orders.products WHERE product_id = $1`, [productId])).rows;

      // Orders holds version 3 of a variant; the republish carries version 3 (the catalog's state for it) or an older one.
      const held = await h.seedVariant(owner.tenantId, { sku: 'R-1', priceAmount: 700, version: 3 });
      await h.catalog.onProductUpdated(
        envelope('catalog', CatalogEventTypes.ProductUpdated, owner.tenantId, held.productId, { tenantId: owner.tenantId, productId: held.productId, vendorId: null, title: 'R', status: 'active' as const, version: 2, occurredAt: held.occurredAt, changed: ['title'] }),
      );
      // Equal versions (variant 3, product 2), then older ones; differing fields make a wrongful overwrite visible.
      for (const [variantVersion, productVersion] of [[3, 2], [2, 1]]) {
        await h.catalog.onVariantUpdated(republished(CatalogEventTypes.VariantUpdated, held.variantId, { ...held, priceAmount: 1, status: 'archived' as const, version: variantVersion }, held.productId));
        await h.catalog.onProductUpdated(
          republished(CatalogEventTypes.ProductUpdated, held.productId, { tenantId: owner.tenantId, productId: held.productId, vendorId: null, title: 'R', status: 'draft' as const, version: productVersion, occurredAt: held.occurredAt }, held.productId),
        );
      }
      expect(await rowOf(held.variantId)).toEqual([{ sku: 'R-1', price: 700, status: 'active', version: 3 }]);
      expect(await productRow(held.productId)).toEqual([{ status: 'active', version: 2 }]);
      expect((await h.placeOrder(owner, orderBody([{ sku: 'R-1', quantity: 1 }]))).status).toBe(202);

      // A SKU orders never heard of (its catalog.variant.created was pruned before orders' group started): created.
      const missing = { tenantId: owner.tenantId, variantId: randomUUID(), productId: randomUUID(), sku: 'R-OLD', priceAmount: 450, currency: 'JPY', compareAtAmount: null, status: 'active' as const, fulfillment: 'physical' as const, condition: 'used' as const, version: 4, occurredAt: new Date().toISOString() };
      expect((await h.placeOrder(owner, orderBody([{ sku: 'R-OLD', quantity: 1 }]))).status).toBe(422);
      await h.catalog.onProductUpdated(
        republished(CatalogEventTypes.ProductUpdated, missing.productId, { tenantId: owner.tenantId, productId: missing.productId, vendorId: null, title: 'Old', status: 'active' as const, version: 2, occurredAt: missing.occurredAt }, missing.productId),
      );
      await h.catalog.onVariantUpdated(republished(CatalogEventTypes.VariantUpdated, missing.variantId, missing, missing.productId));
      expect(await rowOf(missing.variantId)).toEqual([{ sku: 'R-OLD', price: 450, status: 'active', version: 4 }]);
      expect(await productRow(missing.productId)).toEqual([{ status: 'active', version: 2 }]);
      const placed = await h.placeOrder(owner, orderBody([{ sku: 'R-OLD', quantity: 1 }]));
      expect(placed.status).toBe(202);
      expect((await order(placed.body.id)).totals.totalAmount).toBe(450);
    });

    it('skips a malformed catalog payload instead of failing forever', async () => {
      const bad = envelope('catalog', CatalogEventTypes.VariantCreated, owner.tenantId, 'x', { sku: 'BAD', priceAmount: 'ten' } as never);
      await expect(h.catalog.onVariantCreated(bad)).resolves.toBeUndefined();
      expect((await h.placeOrder(owner, orderBody([{ sku: 'BAD', quantity: 1 }]))).status).toBe(422);
    });
  });
});
