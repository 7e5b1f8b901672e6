import { IdempotencyKeys, IdempotencyKeysPurger } from '@tessera/persistence';
import { expectProblem, orderBody, OrdersHarness, type Staff } from './support/orders-harness';

describe('Idempotency-Key on POST /v1/orders', () => {
  let h: OrdersHarness;
  let owner: Staff;
  const body = orderBody([{ sku: 'K-1', quantity: 1 }]);

  beforeAll(async () => {
    h = await OrdersHarness.start();
    owner = h.staff('owner');
    await h.seedVariant(owner.tenantId, { sku: 'K-1', priceAmount: 700 });
  });

  afterAll(async () => {
    await h.close();
  });

  it('replays the first response for the same key and body, even with the fields in another order', async () => {
    const first = await h.placeOrder(owner, body, 'key-replay');
    expect(first.status).toBe(202);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const reordered = { paymentMethod: body.paymentMethod, customer: { email: 'aiko@example.com', name: 'Aiko Tanaka' }, items: body.items };
    for (const again of [body, reordered]) {
      const res = await h.placeOrder(owner, again, 'key-replay');
      expect(res.status).toBe(202);
      expect(res.body).toEqual(first.body);
      expect(res.headers['idempotent-replayed']).toBe('true');
    }
    const { rows } = await h.admin.query('SELECT count(*)::int AS n FROM orders.orders WHERE tenant_id = $1', [owner.tenantId]);
    expect(rows[0].n).toBe(1);
    expect((await h.outbox(owner.tenantId)).filter((e) => e.type === 'orders.order.placed')).toHaveLength(1);
  });

  it('answers 422 when the key comes back with another body, and changes nothing', async () => {
    await h.placeOrder(owner, body, 'key-other-body');
    const before = await h.count('orders', owner.tenantId);
    const res = await h.placeOrder(owner, orderBody([{ sku: 'K-1', quantity: 2 }]), 'key-other-body');
    expectProblem(res, 422);
    expect(res.body.reason).toBe('idempotency_key_reused');
    expect(await h.count('orders', owner.tenantId)).toBe(before);
  });

  it('answers 409 while the first request with the key is still running', async () => {
    const keys = h.app.get(IdempotencyKeys);
    // The first request has claimed the key and is still working (its transaction has not completed it).
    expect((await keys.claim(owner.tenantId, 'key-running', keys.fingerprint('POST /v1/orders', body))).kind).toBe('claimed');
    const before = await h.count('orders', owner.tenantId);
    const res = await h.placeOrder(owner, body, 'key-running');
    expectProblem(res, 409);
    expect(res.body.reason).toBe('idempotency_key_in_progress');
    expect(await h.count('orders', owner.tenantId)).toBe(before);

    // A claim abandoned by a crashed request is taken over once it is old enough.
    await h.admin.query(`UPDATE orders.idempotency_keys SET locked_at = now() - interval '2 minutes' WHERE key = 'key-running'`);
    const res2 = await h.placeOrder(owner, body, 'key-running');
    expect(res2.status).toBe(202);
  });

  it('scopes keys to the tenant', async () => {
    const other = h.staff('owner');
    await h.seedVariant(other.tenantId, { sku: 'K-1', priceAmount: 700 });
    const mine = await h.placeOrder(owner, body, 'key-shared');
    const theirs = await h.placeOrder(other, body, 'key-shared');
    expect(theirs.status).toBe(202);
    expect(theirs.body.id).not.toBe(mine.body.id);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
  });

  it('releases the key when the request fails, so a corrected retry can use it', async () => {
    const withUnknown = orderBody([{ sku: 'LATER-1', quantity: 1 }]);
    expectProblem(await h.placeOrder(owner, withUnknown, 'key-failed'), 422);
    await h.seedVariant(owner.tenantId, { sku: 'LATER-1' });
    const res = await h.placeOrder(owner, withUnknown, 'key-failed');
    expect(res.status).toBe(202);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
  });

  it('forgets a key after it expires (kept 24 h)', async () => {
    const first = await h.placeOrder(owner, body, 'key-expiring');
    const { rows } = await h.admin.query(
      `SELECT expires_at - created_at AS ttl FROM orders.idempotency_keys WHERE tenant_id = $1 AND key = 'key-expiring'`,
      [owner.tenantId],
    );
    expect(rows[0].ttl.hours ?? rows[0].ttl.days * 24).toBeGreaterThanOrEqual(24);
    await h.admin.query(`UPDATE orders.idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'key-expiring'`);
    const res = await h.placeOrder(owner, orderBody([{ sku: 'K-1', quantity: 3 }]), 'key-expiring');
    expect(res.status).toBe(202);
    expect(res.body.id).not.toBe(first.body.id);
  });

  it('refuses a malformed key with 400', async () => {
    const before = await h.count('orders', owner.tenantId);
    expectProblem(await h.placeOrder(owner, body, 'x'.repeat(256)), 400);
    expectProblem(await h.placeOrder(owner, body, 'has space'), 400);
    expect(await h.count('orders', owner.tenantId)).toBe(before);
  });

  it('purges expired keys in the background (the run its timer makes), keeping live ones', async () => {
    const tenant = h.staff('owner');
    await h.seedVariant(tenant.tenantId, { sku: 'K-1', priceAmount: 700 });
    for (const key of ['key-purge-expired', 'key-purge-live']) expect((await h.placeOrder(tenant, body, key)).status).toBe(202);
    await h.admin.query(`UPDATE orders.idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant_id = $1 AND key = 'key-purge-expired'`, [
      tenant.tenantId,
    ]);
    expect(await h.app.get(IdempotencyKeysPurger).purge()).toBeGreaterThanOrEqual(1);
    const { rows } = await h.admin.query(`SELECT key FROM orders.idempotency_keys WHERE tenant_id = $1`, [tenant.tenantId]);
    expect(rows).toEqual([{ key: 'key-purge-live' }]);
  });
});
