import { randomUUID } from 'node:crypto';
import { BillingEventTypes, CONTEXT_HEADER, OrdersEventTypes } from '@tessera/contracts';
import { IdempotencyKeysPurger } from '@tessera/persistence';
import { BillingHarness, expectProblem } from './support/billing-harness';

describe('payments routes', () => {
  let h: BillingHarness;
  const tenant = randomUUID();
  const otherTenant = randomUUID();
  const orders: string[] = [];
  const payments: string[] = [];

  beforeAll(async () => {
    h = await BillingHarness.start();
    // Three payments of `tenant` (oldest first) and one of another tenant.
    for (const method of ['bank_transfer', 'card', 'cod'] as const) {
      const event = h.awaitingPayment(tenant, { paymentMethod: method, totalAmount: 1000 });
      await h.deliver(event);
      orders.push(event.data.orderId);
      payments.push((await h.existingPayment(tenant, event.data.orderId)).id);
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  const openPayment = async (tenantId = tenant): Promise<{ id: string; orderId: string }> => {
    const event = h.awaitingPayment(tenantId);
    await h.deliver(event);
    return { id: (await h.existingPayment(tenantId, event.data.orderId)).id, orderId: event.data.orderId };
  };

  describe('GET /v1/payments', () => {
    it('lists the tenant\'s payments newest first with a cursor', async () => {
      await openPayment(otherTenant);
      const { rows } = await h.admin.query<{ id: string }>(
        'SELECT id FROM billing.payments WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC',
        [tenant],
      );
      const newestFirst = rows.map((r) => r.id);
      expect([...newestFirst].sort()).toEqual([...payments].sort());
      const headers = await h.as(tenant, 'viewer');
      const first = await h.http.get('/v1/payments?limit=2').set(headers);
      expect(first.status).toBe(200);
      expect(first.body.items.map((p: any) => p.id)).toEqual(newestFirst.slice(0, 2));
      const cod = first.body.items.find((p: any) => p.id === payments[2]) ?? (await h.http.get(`/v1/payments/${payments[2]}`).set(headers)).body;
      expect(cod).toMatchObject({ orderId: orders[2], amount: 1000, currency: 'JPY', method: 'cod', status: 'pending', dueAt: null });
      expect(typeof first.body.nextCursor).toBe('string');
      const second = await h.http.get(`/v1/payments?limit=2&cursor=${first.body.nextCursor}`).set(headers);
      expect(second.status).toBe(200);
      expect(second.body.items.map((p: any) => p.id)).toEqual(newestFirst.slice(2));
      expect(second.body.nextCursor).toBeNull();
    });

    it('filters by order and by status', async () => {
      const headers = await h.as(tenant, 'staff');
      const byOrder = await h.http.get(`/v1/payments?orderId=${orders[1]}`).set(headers);
      expect(byOrder.status).toBe(200);
      expect(byOrder.body.items.map((p: any) => p.id)).toEqual([payments[1]]);
      const toFail = await openPayment();
      expect((await h.http.post(`/v1/payments/${toFail.id}/fail`).set(await h.as(tenant, 'owner')).send({})).status).toBe(200);
      const failed = await h.http.get('/v1/payments?status=failed').set(headers);
      expect(failed.status).toBe(200);
      expect(failed.body.items.map((p: any) => p.id)).toEqual([toFail.id]);
      const pending = await h.http.get('/v1/payments?status=pending').set(headers);
      expect(pending.body.items.map((p: any) => p.id).sort()).toEqual([...payments].sort());
      const none = await h.http.get(`/v1/payments?orderId=${randomUUID()}`).set(headers);
      expect(none.body).toEqual({ items: [], nextCursor: null });
    });

    it('finds the payments whose money must be paid back', async () => {
      const shop = randomUUID();
      const headers = await h.as(shop, 'owner');
      const kept = await openPayment(shop);
      expect((await h.http.post(`/v1/payments/${kept.id}/confirm`).set(headers)).status).toBe(200);
      const late = await openPayment(shop);
      await h.deliver(h.orderEvent(shop, OrdersEventTypes.OrderCancelled, { orderId: late.orderId, reason: 'customer' }));
      expect((await h.http.post(`/v1/payments/${late.id}/confirm`).set(headers)).body).toMatchObject({ refundRequired: true });
      const due = await h.http.get('/v1/payments?refundRequired=true').set(headers);
      expect(due.status).toBe(200);
      expect(due.body.items.map((p: any) => [p.id, p.refundReason])).toEqual([[late.id, 'order_cancelled']]);
      const notDue = await h.http.get('/v1/payments?refundRequired=false&status=confirmed').set(headers);
      expect(notDue.body.items.map((p: any) => p.id)).toEqual([kept.id]);
    });

    it('refuses bad queries with 400 problem+json', async () => {
      const headers = await h.as(tenant, 'owner');
      for (const query of ['limit=0', 'limit=101', 'limit=abc', 'status=paid', 'orderId=nope', 'cursor=%21%21', 'cursor=e30', 'color=red', 'refundRequired=yes', 'refundRequired=1']) {
        expectProblem(await h.http.get(`/v1/payments?${query}`).set(headers), 400);
      }
    });
  });

  describe('GET /v1/payments/{id}', () => {
    it('shows the payment with its history', async () => {
      const res = await h.http.get(`/v1/payments/${payments[0]}`).set(await h.as(tenant, 'picker'));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: payments[0], orderId: orders[0], method: 'bank_transfer', status: 'pending', refundRequired: false });
      expect(res.body.history).toHaveLength(1);
      expect(res.body.history[0]).toMatchObject({ from: null, to: 'pending', causeEventType: 'orders.order.awaiting_payment' });
    });

    it('is 404 for another tenant\'s payment or an unknown id, 400 for a malformed id', async () => {
      const theirs = await openPayment(otherTenant);
      const headers = await h.as(tenant, 'owner');
      expectProblem(await h.http.get(`/v1/payments/${theirs.id}`).set(headers), 404);
      expectProblem(await h.http.get(`/v1/payments/${randomUUID()}`).set(headers), 404);
      expectProblem(await h.http.get('/v1/payments/not-a-uuid').set(headers), 400);
    });
  });

  describe('POST /v1/payments/{id}/confirm', () => {
    it('confirms a pending payment, records who did it and emits billing.payment.confirmed', async () => {
      const p = await openPayment();
      const userId = randomUUID();
      const res = await h.http.post(`/v1/payments/${p.id}/confirm`).set(await h.as(tenant, 'manager', { principalId: userId }));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: p.id, status: 'confirmed', refundRequired: false, refundReason: null });
      expect(Date.parse(res.body.confirmedAt)).not.toBeNaN();
      expect(res.body.history.map((e: any) => [e.from, e.to, e.actorId])).toEqual([
        [null, 'pending', null],
        ['pending', 'confirmed', userId],
      ]);
      const outbox = await h.outbox(tenant, p.orderId);
      expect(outbox.map((r) => r.type)).toEqual([BillingEventTypes.PaymentCreated, BillingEventTypes.PaymentConfirmed]);
      expect(outbox[1].data).toEqual({ paymentId: p.id, orderId: p.orderId, amount: 12_500, currency: 'JPY', refundRequired: false });
    });

    it('is 409 for a payment already confirmed, and nothing changes', async () => {
      const p = await openPayment();
      const headers = await h.as(tenant, 'owner');
      expect((await h.http.post(`/v1/payments/${p.id}/confirm`).set(headers)).status).toBe(200);
      const again = await h.http.post(`/v1/payments/${p.id}/confirm`).set(headers);
      expectProblem(again, 409);
      expect(again.body).toMatchObject({ reason: 'payment_not_pending', status: 409, paymentStatus: 'confirmed' });
      expectProblem(await h.http.post(`/v1/payments/${p.id}/fail`).set(headers).send({}), 409);
      expect(await h.outboxTypes(tenant, p.orderId)).toEqual([BillingEventTypes.PaymentCreated, BillingEventTypes.PaymentConfirmed]);
    });

    describe('money for a payment marked failed that arrives after all', () => {
      const failIt = async (id: string) =>
        expect((await h.http.post(`/v1/payments/${id}/fail`).set(await h.as(tenant, 'owner')).send({ reason: 'transfer never came' })).status).toBe(200);

      it('pays the order while that payment is its newest attempt and the order still awaits payment', async () => {
        const p = await openPayment();
        await failIt(p.id);
        const res = await h.http.post(`/v1/payments/${p.id}/confirm`).set(await h.as(tenant, 'owner'));
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ status: 'confirmed', refundRequired: false, refundReason: null });
        expect(res.body.history.map((e: any) => [e.from, e.to])).toEqual([
          [null, 'pending'],
          ['pending', 'failed'],
          ['failed', 'confirmed'],
        ]);
        const outbox = await h.outbox(tenant, p.orderId);
        expect(outbox.map((r) => r.type)).toEqual([BillingEventTypes.PaymentCreated, BillingEventTypes.PaymentFailed, BillingEventTypes.PaymentConfirmed]);
        expect(outbox[2].data).toMatchObject({ paymentId: p.id, refundRequired: false });
      });

      it('is recorded and flagged for refund when the order ended meanwhile', async () => {
        const p = await openPayment();
        await failIt(p.id);
        await h.deliver(h.orderEvent(tenant, OrdersEventTypes.OrderExpired, { orderId: p.orderId }));
        const res = await h.http.post(`/v1/payments/${p.id}/confirm`).set(await h.as(tenant, 'owner'));
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ status: 'confirmed', refundRequired: true, refundReason: 'order_expired' });
        expect(await h.outboxTypes(tenant, p.orderId)).toEqual([
          BillingEventTypes.PaymentCreated,
          BillingEventTypes.PaymentFailed,
          BillingEventTypes.PaymentConfirmed,
          BillingEventTypes.PaymentRefundRequired,
        ]);
      });

      it('is recorded and flagged for refund as payment_superseded when a later attempt replaced it, even after the order was paid', async () => {
        const p = await openPayment();
        const headers = await h.as(tenant, 'owner');
        await failIt(p.id);
        const retried = await h.http.post(`/v1/payments/${p.id}/retry`).set(headers);
        expect(retried.status).toBe(201);
        expect((await h.http.post(`/v1/payments/${retried.body.id}/confirm`).set(headers)).body).toMatchObject({ status: 'confirmed', refundRequired: false });
        const late = await h.http.post(`/v1/payments/${p.id}/confirm`).set(headers);
        expect(late.status).toBe(200);
        expect(late.body).toMatchObject({ status: 'confirmed', refundRequired: true, refundReason: 'payment_superseded' });
        const outbox = await h.outbox(tenant, p.orderId);
        expect(outbox.slice(-2).map((r) => [r.type, r.data.paymentId])).toEqual([
          [BillingEventTypes.PaymentConfirmed, p.id],
          [BillingEventTypes.PaymentRefundRequired, p.id],
        ]);
        expect(outbox[outbox.length - 1].data).toMatchObject({ reason: 'payment_superseded', amount: 12_500 });
        // Recorded once: a second confirmation of either attempt is a conflict.
        expectProblem(await h.http.post(`/v1/payments/${p.id}/confirm`).set(headers), 409);
        expectProblem(await h.http.post(`/v1/payments/${retried.body.id}/confirm`).set(headers), 409);
      });
    });

    it('takes no body: any field in one is a 400 naming it, and the payment stays pending', async () => {
      const p = await openPayment();
      const headers = await h.as(tenant, 'owner');
      for (const body of [{ amount: 12_500 }, { status: 'confirmed', currency: 'JPY' }]) {
        const res = await h.http.post(`/v1/payments/${p.id}/confirm`).set(headers).send(body);
        expectProblem(res, 400);
        expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(Object.keys(body));
      }
      expectProblem(await h.http.post(`/v1/payments/${p.id}/confirm`).set(headers).set('content-type', 'application/json').send('[1]'), 400);
      expect(await h.paymentOf(tenant, p.orderId)).toMatchObject({ status: 'pending' });
      expect(await h.outboxTypes(tenant, p.orderId)).toEqual([BillingEventTypes.PaymentCreated]);
      expect((await h.http.post(`/v1/payments/${p.id}/confirm`).set(headers).send({})).status).toBe(200);
    });

    it('is 404 for another tenant\'s payment, which stays pending', async () => {
      const theirs = await openPayment(otherTenant);
      expectProblem(await h.http.post(`/v1/payments/${theirs.id}/confirm`).set(await h.as(tenant, 'owner')), 404);
      expectProblem(await h.http.post(`/v1/payments/${theirs.id}/fail`).set(await h.as(tenant, 'owner')).send({}), 404);
      expect(await h.paymentOf(otherTenant, theirs.orderId)).toMatchObject({ status: 'pending' });
    });

    it('is 403 for roles that do not collect money, 401 without the gateway context', async () => {
      const p = await openPayment();
      for (const role of ['viewer', 'staff', 'picker', 'project_manager', 'client'] as const) {
        expectProblem(await h.http.post(`/v1/payments/${p.id}/confirm`).set(await h.as(tenant, role)), 403);
        expectProblem(await h.http.post(`/v1/payments/${p.id}/fail`).set(await h.as(tenant, role)).send({}), 403);
      }
      expectProblem(await h.http.get('/v1/payments').set(await h.as(tenant, 'client')), 403);
      expectProblem(await h.http.get(`/v1/payments/${p.id}`).set(await h.as(tenant, 'client')), 403);
      expectProblem(await h.http.post(`/v1/payments/${p.id}/confirm`), 401);
      expectProblem(await h.http.get('/v1/payments').set(CONTEXT_HEADER, 'forged.token.value'), 401);
      expect(await h.paymentOf(tenant, p.orderId)).toMatchObject({ status: 'pending' });
    });
  });

  it('lets API keys in by scope: billing:read to read, billing:write to confirm', async () => {
    const p = await openPayment();
    const key = (scopes: string[]) => h.as(tenant, 'viewer', { principalType: 'api_key', roles: [], scopes });
    expect((await h.http.get(`/v1/payments/${p.id}`).set(await key(['billing:read']))).status).toBe(200);
    expectProblem(await h.http.get(`/v1/payments/${p.id}`).set(await key(['orders:read'])), 403);
    expectProblem(await h.http.post(`/v1/payments/${p.id}/confirm`).set(await key(['billing:read'])), 403);
    const confirmed = await h.http.post(`/v1/payments/${p.id}/confirm`).set(await key(['billing:write']));
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.status).toBe('confirmed');
  });

  it('publishes the payments routes in its OpenAPI document', async () => {
    const res = await h.http.get('/openapi.json').set(await h.as(tenant, 'viewer'));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/v1/payments', '/v1/payments/{id}', '/v1/payments/{id}/confirm', '/v1/payments/{id}/fail']),
    );
  });

  it('documents the body of fail as optional and the Idempotency-Key of retry', async () => {
    const { paths } = (await h.http.get('/openapi.json').set(await h.as(tenant, 'viewer'))).body;
    // Every field of FailPaymentDto is optional and an empty body gets 200 (see the filter test above).
    const failBody = paths['/v1/payments/{id}/fail'].post.requestBody;
    expect(failBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/FailPaymentDto' });
    expect(failBody.required).not.toBe(true);
    const retry = paths['/v1/payments/{id}/retry'].post;
    expect(retry.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false })]));
    expect(Object.keys(retry.responses)).toEqual(expect.arrayContaining(['201', '409', '422']));
  });

  describe('POST /v1/payments/{id}/fail', () => {
    it('fails a pending payment with a reason and emits billing.payment.failed', async () => {
      const p = await openPayment();
      const res = await h.http.post(`/v1/payments/${p.id}/fail`).set(await h.as(tenant, 'sales')).send({ reason: 'card declined' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'failed', failureReason: 'card declined' });
      expect(res.body.history[1]).toMatchObject({ from: 'pending', to: 'failed', reason: 'card declined' });
      const outbox = await h.outbox(tenant, p.orderId);
      expect(outbox[1]).toMatchObject({ type: BillingEventTypes.PaymentFailed, data: { paymentId: p.id, orderId: p.orderId, reason: 'card declined' } });
    });

    it('refuses bad bodies with 400 and changes nothing', async () => {
      const p = await openPayment();
      const headers = await h.as(tenant, 'admin');
      for (const body of [{ reason: 42 }, { reason: 'x'.repeat(501) }, { reason: 'ok', refund: true }]) {
        const res = await h.http.post(`/v1/payments/${p.id}/fail`).set(headers).send(body);
        expectProblem(res, 400);
        expect(res.body.errors.length).toBeGreaterThan(0);
      }
      expectProblem(await h.http.post(`/v1/payments/${p.id}/fail`).set(headers).set('content-type', 'application/json').send('{"reason":'), 400);
      expectProblem(await h.http.post('/v1/payments/123/fail').set(headers).send({}), 400);
      // A form or text body was dropped unread, and the payment failed without its reason.
      for (const [type, body] of [['application/x-www-form-urlencoded', 'reason=card declined'], ['text/plain', '{"reason":"card declined"}']]) {
        const res = await h.http.post(`/v1/payments/${p.id}/fail`).set(headers).set('content-type', type).send(body);
        expectProblem(res, 415);
        const confirm = await h.http.post(`/v1/payments/${p.id}/confirm`).set(headers).set('content-type', type).send(body);
        expectProblem(confirm, 415);
      }
      expect(await h.paymentOf(tenant, p.orderId)).toMatchObject({ status: 'pending' });
      expect(await h.outboxTypes(tenant, p.orderId)).toEqual([BillingEventTypes.PaymentCreated]);
    });
  });

  describe('POST /v1/payments/{id}/retry', () => {
    const fail = async (id: string) =>
      expect((await h.http.post(`/v1/payments/${id}/fail`).set(await h.as(tenant, 'sales')).send({ reason: 'card declined' })).status).toBe(200);

    it('opens the next attempt for a failed payment, which staff can then confirm; it emits billing.payment.created with retryOf', async () => {
      const p = await openPayment();
      await fail(p.id);
      const userId = randomUUID();
      const res = await h.http.post(`/v1/payments/${p.id}/retry`).set(await h.as(tenant, 'sales', { principalId: userId }));
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ orderId: p.orderId, attempt: 2, retryOf: p.id, status: 'pending', amount: 12_500, currency: 'JPY', method: 'bank_transfer' });
      expect(res.body.id).not.toBe(p.id);
      expect(res.body.history).toEqual([expect.objectContaining({ from: null, to: 'pending', actorId: userId, reason: `retry of payment ${p.id}` })]);
      const first = await h.existingPayment(tenant, p.orderId);
      expect(res.body.dueAt).toBe(first.due_at?.toISOString());
      const outbox = await h.outbox(tenant, p.orderId);
      expect(outbox.map((r) => r.type)).toEqual([BillingEventTypes.PaymentCreated, BillingEventTypes.PaymentFailed, BillingEventTypes.PaymentCreated]);
      expect(outbox[0].data).toMatchObject({ paymentId: p.id, attempt: 1, retryOf: null });
      expect(outbox[2].data).toMatchObject({ paymentId: res.body.id, orderId: p.orderId, attempt: 2, retryOf: p.id, amount: 12_500 });
      const confirmed = await h.http.post(`/v1/payments/${res.body.id}/confirm`).set(await h.as(tenant, 'owner'));
      expect(confirmed.body).toMatchObject({ status: 'confirmed', refundRequired: false });
      const listed = await h.http.get(`/v1/payments?orderId=${p.orderId}`).set(await h.as(tenant, 'viewer'));
      expect(listed.body.items.map((i: any) => [i.attempt, i.status]).sort()).toEqual([[1, 'failed'], [2, 'confirmed']]);
    });

    it('is 409 for a payment that has not failed, one already tried again, or an order that no longer awaits payment; nothing is opened', async () => {
      const headers = await h.as(tenant, 'owner');
      const pending = await openPayment();
      const notFailed = await h.http.post(`/v1/payments/${pending.id}/retry`).set(headers);
      expectProblem(notFailed, 409);
      expect(notFailed.body).toMatchObject({ reason: 'payment_not_failed', paymentStatus: expect.any(String) });

      const twice = await openPayment();
      await fail(twice.id);
      const [a, b] = await Promise.all([h.http.post(`/v1/payments/${twice.id}/retry`).set(headers), h.http.post(`/v1/payments/${twice.id}/retry`).set(headers)]);
      expect([a.status, b.status].sort()).toEqual([201, 409]);
      expect((a.status === 409 ? a : b).body).toMatchObject({ reason: 'payment_superseded', paymentId: (a.status === 201 ? a : b).body.id });
      expect(await h.paymentCount(tenant, twice.orderId)).toBe(2);

      const ended = await openPayment();
      await fail(ended.id);
      await h.deliver(h.orderEvent(tenant, OrdersEventTypes.OrderCancelled, { orderId: ended.orderId, reason: 'customer' }));
      const refused = await h.http.post(`/v1/payments/${ended.id}/retry`).set(headers);
      expectProblem(refused, 409);
      expect(refused.body).toMatchObject({ reason: 'order_not_awaiting_payment', orderStatus: 'cancelled' });
      expect(await h.paymentCount(tenant, ended.orderId)).toBe(1);
      expect(await h.outboxTypes(tenant, ended.orderId)).toEqual([BillingEventTypes.PaymentCreated, BillingEventTypes.PaymentFailed]);
    });

    it('a retry racing the order\'s cancellation: a 201 whose new attempt is then cancelled, or a 409; never a 500', async () => {
      const headers = await h.as(tenant, 'owner');
      for (let round = 0; round < 8; round++) {
        const p = await openPayment();
        await fail(p.id);
        const [retried] = await Promise.all([
          h.http.post(`/v1/payments/${p.id}/retry`).set(headers),
          h.deliver(h.orderEvent(tenant, OrdersEventTypes.OrderCancelled, { orderId: p.orderId, reason: 'customer' })),
        ]);
        expect([round, [201, 409].includes(retried.status)]).toEqual([round, true]);
        const attempts = (await h.paymentsOf(tenant, p.orderId)).map((r) => [r.attempt, r.status]);
        expect([round, attempts]).toEqual([round, retried.status === 201 ? [[1, 'failed'], [2, 'cancelled']] : [[1, 'failed']]]);
      }
    });

    it('a retried payment is the one the order\'s end cancels', async () => {
      const p = await openPayment();
      await fail(p.id);
      const retried = (await h.http.post(`/v1/payments/${p.id}/retry`).set(await h.as(tenant, 'owner'))).body;
      await h.deliver(h.orderEvent(tenant, OrdersEventTypes.OrderExpired, { orderId: p.orderId }));
      expect((await h.paymentsOf(tenant, p.orderId)).map((r) => [r.attempt, r.status, r.cancel_reason])).toEqual([
        [1, 'failed', null],
        [2, 'cancelled', 'order_expired'],
      ]);
      const outbox = await h.outbox(tenant, p.orderId);
      expect(outbox[outbox.length - 1]).toMatchObject({ type: BillingEventTypes.PaymentCancelled, data: { paymentId: retried.id } });
    });

    describe('with an Idempotency-Key', () => {
      const retry = async (id: string, key?: string, body?: object) => {
        const req = h.http.post(`/v1/payments/${id}/retry`).set(await h.as(tenant, 'owner'));
        if (key !== undefined) req.set('Idempotency-Key', key);
        return body === undefined ? req : req.send(body);
      };
      const keysOf = async (key: string): Promise<number> =>
        (await h.admin.query('SELECT 1 FROM billing.idempotency_keys WHERE tenant_id = $1 AND key = $2', [tenant, key])).rowCount ?? 0;

      it('replays the first 201 for the same key, opening one attempt and emitting one event; a refusal is not stored', async () => {
        const p = await openPayment();
        // A 409 is not kept for replays: the key stays free for the retry that can succeed.
        const early = await retry(p.id, 'retry-replay');
        expectProblem(early, 409);
        expect(early.body).toMatchObject({ reason: 'payment_not_failed' });
        await fail(p.id);
        const first = await retry(p.id, 'retry-replay');
        expect(first.status).toBe(201);
        expect(first.headers['idempotent-replayed']).toBeUndefined();
        // `{}` is the same (empty) body as none at all.
        const again = await retry(p.id, 'retry-replay', {});
        expect(again.status).toBe(201);
        expect(again.headers['idempotent-replayed']).toBe('true');
        expect(again.body).toEqual(first.body);
        expect((await h.paymentsOf(tenant, p.orderId)).map((r) => [r.id, r.attempt, r.status])).toEqual([
          [p.id, 1, 'failed'],
          [first.body.id, 2, 'pending'],
        ]);
        expect(await h.outboxTypes(tenant, p.orderId)).toEqual([BillingEventTypes.PaymentCreated, BillingEventTypes.PaymentFailed, BillingEventTypes.PaymentCreated]);
      });

      it('two retries with the same key at once open one attempt: the other is told the first is running, or replays it', async () => {
        const p = await openPayment();
        await fail(p.id);
        const [a, b] = await Promise.all([retry(p.id, 'retry-race'), retry(p.id, 'retry-race')]);
        const [created, other] = a.headers['idempotent-replayed'] || a.status !== 201 ? [b, a] : [a, b];
        expect(created.status).toBe(201);
        if (other.status === 201) {
          expect(other.headers['idempotent-replayed']).toBe('true');
          expect(other.body).toEqual(created.body);
        } else {
          expectProblem(other, 409);
          expect(other.body).toMatchObject({ reason: 'idempotency_key_in_progress' });
        }
        expect(await h.paymentCount(tenant, p.orderId)).toBe(2);
      });

      it('is 422 for the same key on another request (another payment), 400 for a body; nothing changes', async () => {
        const [p, q] = [await openPayment(), await openPayment()];
        await fail(p.id);
        await fail(q.id);
        expect((await retry(p.id, 'retry-reused')).status).toBe(201);
        // The payment id is what this request says: the same key for another payment is another request.
        const reused = await retry(q.id, 'retry-reused');
        expectProblem(reused, 422);
        expect(reused.body).toMatchObject({ reason: 'idempotency_key_reused' });
        // The route takes no body: a field in one is refused (400) before the key is looked at, as on every route.
        const withBody = await retry(p.id, 'retry-reused', { method: 'card' });
        expectProblem(withBody, 400);
        expect(await h.paymentCount(tenant, p.orderId)).toBe(2);
        expect(await h.paymentCount(tenant, q.orderId)).toBe(1);
        expect(await h.outboxTypes(tenant, q.orderId)).toEqual([BillingEventTypes.PaymentCreated, BillingEventTypes.PaymentFailed]);
        // q itself can still be retried, with a key of its own.
        expect((await retry(q.id, 'retry-reused-q')).status).toBe(201);
      });

      it('refuses a malformed key with 400 and opens nothing', async () => {
        const p = await openPayment();
        await fail(p.id);
        for (const key of ['k'.repeat(256), 'has space', 'tab\tkey']) expectProblem(await retry(p.id, key), 400);
        expect(await h.paymentCount(tenant, p.orderId)).toBe(1);
      });

      it('without a key a retry runs as before and stores nothing: a second one is 409 payment_superseded', async () => {
        const p = await openPayment();
        await fail(p.id);
        const before = (await h.admin.query('SELECT 1 FROM billing.idempotency_keys WHERE tenant_id = $1', [tenant])).rowCount;
        const first = await retry(p.id);
        expect(first.status).toBe(201);
        expect(first.headers['idempotent-replayed']).toBeUndefined();
        const second = await retry(p.id);
        expectProblem(second, 409);
        expect(second.body).toMatchObject({ reason: 'payment_superseded', paymentId: first.body.id });
        expect(await h.paymentCount(tenant, p.orderId)).toBe(2);
        expect((await h.admin.query('SELECT 1 FROM billing.idempotency_keys WHERE tenant_id = $1', [tenant])).rowCount).toBe(before);
      });

      it('purges expired keys in the background (the run its timer makes), keeping live ones', async () => {
        const [p, q] = [await openPayment(), await openPayment()];
        await fail(p.id);
        await fail(q.id);
        expect((await retry(p.id, 'retry-purge-expired')).status).toBe(201);
        expect((await retry(q.id, 'retry-purge-live')).status).toBe(201);
        await h.admin.query(`UPDATE billing.idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1 AND key = 'retry-purge-expired'`, [
          tenant,
        ]);
        expect(await h.app.get(IdempotencyKeysPurger).purge()).toBeGreaterThanOrEqual(1);
        expect([await keysOf('retry-purge-expired'), await keysOf('retry-purge-live')]).toEqual([0, 1]);
      });
    });

    it('refuses a body, a malformed id, another tenant\'s payment and roles that do not collect money, and opens nothing', async () => {
      const p = await openPayment();
      await fail(p.id);
      const owner = await h.as(tenant, 'owner');
      const withBody = await h.http.post(`/v1/payments/${p.id}/retry`).set(owner).send({ method: 'card' });
      expectProblem(withBody, 400);
      expect(withBody.body.errors.map((e: { field: string }) => e.field)).toEqual(['method']);
      expectProblem(await h.http.post('/v1/payments/not-a-uuid/retry').set(owner), 400);
      expectProblem(await h.http.post(`/v1/payments/${p.id}/retry`).set(await h.as(otherTenant, 'owner')), 404);
      expectProblem(await h.http.post(`/v1/payments/${randomUUID()}/retry`).set(owner), 404);
      expectProblem(await h.http.post(`/v1/payments/${p.id}/retry`).set(await h.as(tenant, 'viewer')), 403);
      expectProblem(await h.http.post(`/v1/payments/${p.id}/retry`), 401);
      expect(await h.paymentCount(tenant, p.orderId)).toBe(1);
      expect(await h.outboxTypes(tenant, p.orderId)).toEqual([BillingEventTypes.PaymentCreated, BillingEventTypes.PaymentFailed]);
    });
  });
});
