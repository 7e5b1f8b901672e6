import { randomUUID } from 'node:crypto';
import { BillingEventTypes, OrdersEventTypes, topicOf } from '@tessera/contracts';
import { EVENT_TRANSPORT, PostgresTransport, type EventTransport } from '@tessera/messaging';
import { BillingHarness, waitFor } from './support/billing-harness';

describe('billing saga: orders events through the inbox', () => {
  let h: BillingHarness;
  const tenant = randomUUID();
  beforeAll(async () => {
    h = await BillingHarness.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  const cancelled = (orderId: string) => h.orderEvent(tenant, OrdersEventTypes.OrderCancelled, { orderId, reason: 'customer asked' });
  const expired = (orderId: string) => h.orderEvent(tenant, OrdersEventTypes.OrderExpired, { orderId });
  const confirm = async (paymentId: string) => h.http.post(`/v1/payments/${paymentId}/confirm`).set(await h.as(tenant, 'sales'));

  it('opens one payment per order under redelivery, concurrent duplicates and a re-emitted event', async () => {
    const event = h.awaitingPayment(tenant, { totalAmount: 4_200, currency: 'EUR', paymentMethod: 'card' });
    const reEmitted = { ...event, id: randomUUID() };
    await Promise.all([h.deliver(event), h.deliver(event), h.deliver(event), h.deliver(reEmitted), h.deliver(reEmitted)]);
    await h.deliver(event);

    expect(await h.paymentCount(tenant, event.data.orderId)).toBe(1);
    const payment = await h.existingPayment(tenant, event.data.orderId);
    expect(payment).toMatchObject({ status: 'pending', amount: '4200', currency: 'EUR', method: 'card', refund_required: false });
    expect(payment.due_at?.toISOString()).toBe(event.data.expiresAt);

    const outbox = await h.outbox(tenant, event.data.orderId);
    expect(outbox.map((r) => r.type)).toEqual([BillingEventTypes.PaymentCreated]);
    expect(outbox[0].subject).toBe(payment.id);
    expect(outbox[0].data).toEqual({
      paymentId: payment.id,
      orderId: event.data.orderId,
      attempt: 1,
      retryOf: null,
      amount: 4200,
      currency: 'EUR',
      method: 'card',
      dueAt: event.data.expiresAt,
    });
    const processed = await h.admin.query('SELECT event_id FROM billing.processed_events WHERE consumer_group = $1 AND event_id = ANY($2)', [
      'billing',
      [event.id, reEmitted.id],
    ]);
    expect(processed.rowCount).toBe(2);
    const history = await h.admin.query('SELECT from_status, to_status FROM billing.payment_status_changes WHERE payment_id = $1', [payment.id]);
    expect(history.rows).toEqual([{ from_status: null, to_status: 'pending' }]);
  });

  it('cash on delivery has no due date until delivery', async () => {
    const event = h.awaitingPayment(tenant, { paymentMethod: 'cod' });
    await h.deliver(event);
    const payment = await h.existingPayment(tenant, event.data.orderId);
    expect(payment).toMatchObject({ method: 'cod', status: 'pending', due_at: null });
    expect((await h.outbox(tenant, event.data.orderId))[0].data['dueAt']).toBeNull();
  });

  it('cancels a pending payment when the order is cancelled, once under redelivery', async () => {
    const opened = h.awaitingPayment(tenant);
    await h.deliver(opened);
    const cancel = cancelled(opened.data.orderId);
    await h.deliver(cancel);
    await h.deliver(cancel);
    await h.deliver({ ...cancel, id: randomUUID() });

    const payment = await h.existingPayment(tenant, opened.data.orderId);
    expect(payment).toMatchObject({ status: 'cancelled', cancel_reason: 'order_cancelled', refund_required: false });
    const outbox = await h.outbox(tenant, opened.data.orderId);
    expect(outbox.map((r) => r.type)).toEqual([BillingEventTypes.PaymentCreated, BillingEventTypes.PaymentCancelled]);
    expect(outbox[1].data).toEqual({ paymentId: payment.id, orderId: opened.data.orderId, reason: 'order_cancelled' });
  });

  it('an expiry processed before awaiting_payment means no payment is opened, even on redelivery', async () => {
    const opened = h.awaitingPayment(tenant);
    await h.deliver(expired(opened.data.orderId));
    await h.deliver(opened);
    await h.deliver(opened);
    expect(await h.paymentCount(tenant, opened.data.orderId)).toBe(0);
    expect(await h.outboxTypes(tenant, opened.data.orderId)).toEqual([]);
    const book = await h.admin.query('SELECT status FROM billing.order_statuses WHERE tenant_id = $1 AND order_id = $2', [tenant, opened.data.orderId]);
    expect(book.rows).toEqual([{ status: 'expired' }]);
  });

  it('flags a confirmed payment for refund when the order expired after the money arrived', async () => {
    const opened = h.awaitingPayment(tenant);
    await h.deliver(opened);
    const payment = await h.existingPayment(tenant, opened.data.orderId);
    const res = await confirm(payment.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'confirmed', refundRequired: false });

    const expiry = expired(opened.data.orderId);
    await h.deliver(expiry);
    await h.deliver(expiry);
    await h.deliver({ ...expiry, id: randomUUID() });

    expect(await h.paymentOf(tenant, opened.data.orderId)).toMatchObject({ status: 'confirmed', refund_required: true, refund_reason: 'order_expired' });
    const outbox = await h.outbox(tenant, opened.data.orderId);
    expect(outbox.map((r) => r.type)).toEqual([
      BillingEventTypes.PaymentCreated,
      BillingEventTypes.PaymentConfirmed,
      BillingEventTypes.PaymentRefundRequired,
    ]);
    expect(outbox[1].data['refundRequired']).toBe(false);
    expect(outbox[2].data).toEqual({ paymentId: payment.id, orderId: opened.data.orderId, amount: 12_500, currency: 'JPY', reason: 'order_expired' });
    const detail = await h.http.get(`/v1/payments/${payment.id}`).set(await h.as(tenant, 'viewer'));
    expect(detail.body.history.map((e: any) => [e.from, e.to, e.refundRequired, e.causeEventType])).toEqual([
      [null, 'pending', false, OrdersEventTypes.OrderAwaitingPayment],
      ['pending', 'confirmed', false, null],
      ['confirmed', 'confirmed', true, OrdersEventTypes.OrderExpired],
    ]);
  });

  it('money confirmed after the expiry was processed is recorded and flagged for refund at once', async () => {
    const opened = h.awaitingPayment(tenant);
    await h.deliver(opened);
    await h.deliver(expired(opened.data.orderId));
    const payment = await h.existingPayment(tenant, opened.data.orderId);
    expect(payment).toMatchObject({ status: 'cancelled', cancel_reason: 'order_expired' });

    const res = await confirm(payment.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'confirmed', refundRequired: true, refundReason: 'order_expired' });
    const outbox = await h.outbox(tenant, opened.data.orderId);
    expect(outbox.map((r) => r.type)).toEqual([
      BillingEventTypes.PaymentCreated,
      BillingEventTypes.PaymentCancelled,
      BillingEventTypes.PaymentConfirmed,
      BillingEventTypes.PaymentRefundRequired,
    ]);
    expect(outbox[2].data).toMatchObject({ paymentId: payment.id, refundRequired: true });
    // Confirming twice is still a conflict: the money is on record once.
    expect((await confirm(payment.id)).status).toBe(409);
  });

  it('a paid order stays paid: a late cancellation neither cancels nor flags its payment', async () => {
    const opened = h.awaitingPayment(tenant);
    await h.deliver(opened);
    const payment = await h.existingPayment(tenant, opened.data.orderId);
    expect((await confirm(payment.id)).status).toBe(200);
    await h.deliver(h.orderEvent(tenant, OrdersEventTypes.OrderPaid, { orderId: opened.data.orderId, paymentId: payment.id }));
    await h.deliver(cancelled(opened.data.orderId));
    expect(await h.paymentOf(tenant, opened.data.orderId)).toMatchObject({ status: 'confirmed', refund_required: false });
    expect(await h.outboxTypes(tenant, opened.data.orderId)).toEqual([BillingEventTypes.PaymentCreated, BillingEventTypes.PaymentConfirmed]);
  });

  it('a paid order that orders expires from paid (stock gone after a late payment) gets its payment flagged for refund', async () => {
    const opened = h.awaitingPayment(tenant);
    await h.deliver(opened);
    const payment = await h.existingPayment(tenant, opened.data.orderId);
    expect((await confirm(payment.id)).status).toBe(200);
    await h.deliver(h.orderEvent(tenant, OrdersEventTypes.OrderPaid, { orderId: opened.data.orderId, paymentId: payment.id }));
    // A plain expiry after paid (a reordered or stale event) changes nothing: paid stays paid.
    await h.deliver(expired(opened.data.orderId));
    expect(await h.paymentOf(tenant, opened.data.orderId)).toMatchObject({ status: 'confirmed', refund_required: false });
    const fromPaid = h.orderEvent(tenant, OrdersEventTypes.OrderExpired, { orderId: opened.data.orderId, paymentId: payment.id, previousStatus: 'paid' });
    await h.deliver(fromPaid);
    await h.deliver(fromPaid);
    expect(await h.paymentOf(tenant, opened.data.orderId)).toMatchObject({ status: 'confirmed', refund_required: true, refund_reason: 'order_expired' });
    expect(await h.outboxTypes(tenant, opened.data.orderId)).toEqual([
      BillingEventTypes.PaymentCreated,
      BillingEventTypes.PaymentConfirmed,
      BillingEventTypes.PaymentRefundRequired,
    ]);
  });

  it('a confirm racing the expiry always ends confirmed and flagged for refund', async () => {
    for (let i = 0; i < 5; i++) {
      const opened = h.awaitingPayment(tenant);
      await h.deliver(opened);
      const payment = await h.existingPayment(tenant, opened.data.orderId);
      const [res] = await Promise.all([confirm(payment.id), h.deliver(expired(opened.data.orderId))]);
      expect(res.status).toBe(200);
      expect(await h.paymentOf(tenant, opened.data.orderId)).toMatchObject({ status: 'confirmed', refund_required: true });
      const types = await h.outboxTypes(tenant, opened.data.orderId);
      expect(types.filter((t) => t === BillingEventTypes.PaymentRefundRequired)).toHaveLength(1);
    }
  });

  it('takes an event whose time PostgreSQL could not read as happening now, instead of failing it forever', async () => {
    for (const time of ['1', '2026-13-45', 'yesterday', '']) {
      const event = { ...h.awaitingPayment(tenant), time };
      await h.deliver(event);
      const orderId = (event.data as { orderId: string }).orderId;
      expect([time, await h.paymentCount(tenant, orderId)]).toEqual([time, 1]);
    }
  });

  it('acknowledges malformed events without effects', async () => {
    const orderId = randomUUID();
    const bad = [
      h.orderEvent(tenant, OrdersEventTypes.OrderAwaitingPayment, { orderId, totalAmount: -1, currency: 'JPY', paymentMethod: 'card' }),
      h.orderEvent(tenant, OrdersEventTypes.OrderAwaitingPayment, { orderId, totalAmount: 10, currency: 'yen', paymentMethod: 'card' }),
      h.orderEvent(tenant, OrdersEventTypes.OrderAwaitingPayment, { orderId, totalAmount: 10, currency: 'JPY', paymentMethod: 'cheque' }),
      { ...h.awaitingPayment(tenant, { orderId }), tenantid: 'not-a-tenant' },
      h.orderEvent(tenant, OrdersEventTypes.OrderCancelled, { orderId: 'nope' }),
    ];
    for (const event of bad) await expect(h.deliver(event)).resolves.toBeUndefined();
    expect(await h.paymentCount(tenant, orderId)).toBe(0);
    const processed = await h.admin.query('SELECT 1 FROM billing.processed_events WHERE event_id = ANY($1)', [bad.map((e) => e.id)]);
    expect(processed.rowCount).toBe(0);
  });

  it('consumes orders events from the real transport and relays its own events', async () => {
    const opened = h.awaitingPayment(tenant);
    // Orders' events come from another publisher: billing's own role may publish only on billing's topic.
    const transport = new PostgresTransport({ url: h.db.url, onError: () => undefined });
    await expect(h.app.get<EventTransport>(EVENT_TRANSPORT).publish(topicOf('orders'), [opened])).rejects.toThrow(/row-level security/);
    await transport.publish(topicOf('orders'), [opened, opened]);
    await waitFor('the payment', async () => (await h.paymentCount(tenant, opened.data.orderId)) === 1);
    await transport.publish(topicOf('orders'), [cancelled(opened.data.orderId)]);
    await waitFor('the cancellation', async () => (await h.paymentOf(tenant, opened.data.orderId))?.status === 'cancelled');
    await waitFor('billing events published', async () => {
      const { rows } = await h.admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messaging.events WHERE topic = $1 AND key = $2`,
        [topicOf('billing'), opened.data.orderId],
      );
      return rows[0].n === 2;
    });
    expect(await h.outboxTypes(tenant, opened.data.orderId)).toEqual([BillingEventTypes.PaymentCreated, BillingEventTypes.PaymentCancelled]);
    await transport.close();
  });
});
