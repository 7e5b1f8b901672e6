import { randomUUID } from 'node:crypto';
import { lockWaiters, untilLockWaiters } from '@tessera/testing';
import { Client } from 'pg';
import { InventoryDomain, InventoryError } from '../src/domain';
import { ledgerMismatches, newTenant, raiseOnHand, startHarness, type Harness } from './harness';

let h: Harness;
const tenant = newTenant();
let main: string;
let backup: string;

beforeAll(async () => {
  h = await startHarness();
  main = (await h.domain.locations.create(tenant, { code: 'MAIN', name: 'Main', priority: 1 })).id;
  backup = (await h.domain.locations.create(tenant, { code: 'BACKUP', name: 'Backup', priority: 5 })).id;
});
afterAll(() => h?.close());

const receive = async (sku: string, locationId: string, quantity: number) => {
  await h.knowSkus(tenant, sku);
  return h.domain.movements.apply(tenant, { type: 'receive', sku, locationId, quantity });
};
const levelsOf = async (sku: string) =>
  (await h.domain.queries.levels(tenant, { sku })).map((l) => ({ at: l.locationId === main ? 'main' : 'backup', onHand: l.onHand, reserved: l.reserved })).sort((a, b) => a.at.localeCompare(b.at));
const eventsFor = (reference: string) =>
  h.admin(`SELECT type FROM inventory.outbox_events WHERE envelope->'data'->>'reference' = $1 ORDER BY seq`, [reference]).then((r) => r.map((e) => e.type));

describe('reserve', () => {
  it('allocates across locations by priority and publishes confirmed', async () => {
    await receive('R-1', main, 3);
    await receive('R-1', backup, 5);
    const out = await h.domain.reservations.reserve(tenant, { reference: 'order-1', lines: [{ sku: 'R-1', quantity: 4 }] });
    if (out.status !== 'confirmed') throw new Error(`expected confirmed, got ${out.status}`);
    expect(out.allocations.map((a) => [a.locationId === main ? 'main' : 'backup', a.quantity]).sort()).toEqual([['backup', 1], ['main', 3]]);
    expect(await levelsOf('R-1')).toEqual([{ at: 'backup', onHand: 5, reserved: 1 }, { at: 'main', onHand: 3, reserved: 3 }]);
    expect(await eventsFor('order-1')).toEqual(['inventory.reservation.confirmed']);
  });

  it('is idempotent per reference: the same request answers the same reservation and reserves nothing more', async () => {
    const again = await h.domain.reservations.reserve(tenant, { reference: 'order-1', lines: [{ sku: 'R-1', quantity: 4 }] });
    const first = await h.domain.reservations.get(tenant, 'order-1');
    expect(again).toMatchObject({ status: 'confirmed', reservationId: first?.id });
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => h.domain.reservations.reserve(tenant, { reference: 'order-1b', lines: [{ sku: 'R-1', quantity: 1 }] })));
    expect(concurrent.filter((o) => o.status === 'withdrawn')).toEqual([]);
    expect(new Set(concurrent.map((o) => (o.status === 'queued' ? o.requestId : o.status === 'withdrawn' ? o.reference : o.reservationId))).size).toBe(1);
    expect(await levelsOf('R-1')).toEqual([{ at: 'backup', onHand: 5, reserved: 2 }, { at: 'main', onHand: 3, reserved: 3 }]);
    expect(await eventsFor('order-1')).toEqual(['inventory.reservation.confirmed']);
  });

  it('reserves all lines or none: one short line rejects the order and changes no stock', async () => {
    await receive('R-2', main, 10);
    const out = await h.domain.reservations.reserve(tenant, {
      reference: 'order-2',
      lines: [{ sku: 'R-2', quantity: 2 }, { sku: 'R-1', quantity: 100 }, { sku: 'NOPE', quantity: 1 }],
    });
    expect(out).toMatchObject({
      status: 'rejected',
      shortfalls: [
        { sku: 'NOPE', requested: 1, available: 0 },
        { sku: 'R-1', requested: 100, available: 3 },
      ],
    });
    expect(await levelsOf('R-2')).toEqual([{ at: 'main', onHand: 10, reserved: 0 }]);
    expect(await eventsFor('order-2')).toEqual(['inventory.reservation.rejected']);
    // A rejected reference stays rejected on redelivery, even once stock arrives.
    await receive('R-1', main, 200);
    expect((await h.domain.reservations.reserve(tenant, { reference: 'order-2', lines: [{ sku: 'R-2', quantity: 2 }] })).status).toBe('rejected');
  });

  it('keeps conditions apart: used stock does not serve new', async () => {
    await h.knowSkus(tenant, 'R-3');
    await h.domain.movements.apply(tenant, { type: 'receive', sku: 'R-3', locationId: main, quantity: 5, condition: 'used' });
    expect((await h.domain.reservations.reserve(tenant, { reference: 'order-3', lines: [{ sku: 'R-3', quantity: 1 }] })).status).toBe('rejected');
    expect((await h.domain.reservations.reserve(tenant, { reference: 'order-3u', lines: [{ sku: 'R-3', quantity: 5, condition: 'used' }] })).status).toBe('confirmed');
  });

  it('rejects invalid requests', async () => {
    const bad = [
      { reference: '', lines: [{ sku: 'R-1', quantity: 1 }] },
      { reference: 'x', lines: [] },
      { reference: 'x', lines: [{ sku: 'R-1', quantity: 0 }] },
      { reference: 'x', lines: [{ sku: 'R-1', quantity: -3 }] },
      { reference: 'x', lines: [{ sku: 'R-1', quantity: 1 }], ttlSeconds: 0 },
    ];
    for (const b of bad) await expect(h.domain.reservations.reserve(tenant, b)).rejects.toBeInstanceOf(InventoryError);
  });
});

describe('commit, release, expiry', () => {
  it('commit drops on hand and reserved together, writes ledger rows, and is idempotent', async () => {
    await receive('C-1', main, 5);
    await h.domain.reservations.reserve(tenant, { reference: 'order-c', lines: [{ sku: 'C-1', quantity: 2 }] });
    const committed = await h.domain.reservations.commit(tenant, 'order-c', { actor: 'system:saga' });
    expect(committed.status).toBe('committed');
    await h.domain.reservations.commit(tenant, 'order-c');
    expect(await levelsOf('C-1')).toEqual([{ at: 'main', onHand: 3, reserved: 0 }]);
    const ledger = await h.domain.queries.ledger(tenant, { sku: 'C-1' });
    expect(ledger.items.map((i) => [i.type, i.delta, i.deltaReserved, i.reference])).toEqual([
      ['commit', -2, -2, 'order-c'],
      ['reserve', 0, 2, 'order-c'],
      ['receive', 5, 0, null],
    ]);
    expect(await eventsFor('order-c')).toEqual(['inventory.reservation.confirmed', 'inventory.reservation.committed']);
    await expect(h.domain.reservations.release(tenant, 'order-c')).rejects.toMatchObject({ kind: 'conflict', code: 'reservation_not_active' });
  });

  it('release gives the stock back; committing a released reservation is a conflict', async () => {
    await receive('C-2', main, 5);
    await h.domain.reservations.reserve(tenant, { reference: 'order-r', lines: [{ sku: 'C-2', quantity: 5 }] });
    expect((await h.domain.reservations.release(tenant, 'order-r'))?.status).toBe('released');
    expect((await h.domain.reservations.release(tenant, 'order-r'))?.status).toBe('released');
    expect(await levelsOf('C-2')).toEqual([{ at: 'main', onHand: 5, reserved: 0 }]);
    await expect(h.domain.reservations.commit(tenant, 'order-r')).rejects.toMatchObject({ code: 'reservation_not_active' });
    await expect(h.domain.reservations.commit(tenant, 'missing')).rejects.toMatchObject({ kind: 'not_found' });
  });

  it('the sweeper expires due reservations and releases their stock; the tenant TTL sets the default', async () => {
    await h.domain.queries.updateSettings(tenant, { reservationTtlSeconds: 120 });
    await receive('E-1', main, 4);
    const out = await h.domain.reservations.reserve(tenant, { reference: 'order-e', lines: [{ sku: 'E-1', quantity: 3 }] });
    if (out.status !== 'confirmed') throw new Error(`expected confirmed, got ${out.status}`);
    const ttl = (out.expiresAt.getTime() - Date.now()) / 1000;
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(121);
    const short = await h.domain.reservations.reserve(tenant, { reference: 'order-e2', lines: [{ sku: 'E-1', quantity: 1 }], ttlSeconds: 1 });
    expect(short.status).toBe('confirmed');
    await new Promise((r) => setTimeout(r, 1100));
    expect(await h.domain.reservations.expireDueAllTenants()).toBe(1);
    expect((await h.domain.reservations.get(tenant, 'order-e2'))?.status).toBe('expired');
    expect((await h.domain.reservations.get(tenant, 'order-e'))?.status).toBe('active');
    expect(await levelsOf('E-1')).toEqual([{ at: 'main', onHand: 4, reserved: 3 }]);
    expect(await eventsFor('order-e2')).toEqual(['inventory.reservation.confirmed', 'inventory.reservation.expired']);
  });

  it('cash on delivery holds the stock for the tenant\'s cash-on-delivery TTL (14 days by default), not the checkout\'s', async () => {
    const ttlOf = async (reference: string, cashOnDelivery: boolean) => {
      const out = await h.domain.reservations.reserve(tenant, { reference, lines: [{ sku: 'COD-1', quantity: 1 }], cashOnDelivery });
      if (out.status !== 'confirmed') throw new Error(`expected confirmed, got ${out.status}`);
      return (out.expiresAt.getTime() - Date.now()) / 1000;
    };
    await receive('COD-1', main, 10);
    // The test before set the checkout TTL to 120 s; the cash-on-delivery one is still its default.
    expect(await h.domain.queries.settings(tenant)).toEqual({ reservationTtlSeconds: 120, cashOnDeliveryTtlSeconds: 14 * 86400 });
    expect(await h.domain.queries.settings(newTenant())).toEqual({ reservationTtlSeconds: 900, cashOnDeliveryTtlSeconds: 14 * 86400 });
    expect(await ttlOf('cod-default', true)).toBeGreaterThan(14 * 86400 - 60);
    expect(await ttlOf('card-default', false)).toBeLessThanOrEqual(120);
    // Setting one leaves the other as it was.
    expect(await h.domain.queries.updateSettings(tenant, { cashOnDeliveryTtlSeconds: 3 * 86400 })).toEqual({
      reservationTtlSeconds: 120,
      cashOnDeliveryTtlSeconds: 3 * 86400,
    });
    expect(await h.domain.queries.updateSettings(tenant, { reservationTtlSeconds: 60 })).toEqual({
      reservationTtlSeconds: 60,
      cashOnDeliveryTtlSeconds: 3 * 86400,
    });
    const cod = await ttlOf('cod-set', true);
    expect(cod).toBeGreaterThan(3 * 86400 - 60);
    expect(cod).toBeLessThanOrEqual(3 * 86400);
    expect(await ttlOf('card-set', false)).toBeLessThanOrEqual(60);
    for (const bad of [{}, { cashOnDeliveryTtlSeconds: 0 }, { cashOnDeliveryTtlSeconds: 90 * 86400 + 1 }, { reservationTtlSeconds: 1.5 }]) {
      await expect(h.domain.queries.updateSettings(tenant, bad)).rejects.toMatchObject({ kind: 'invalid' });
    }
    expect(await h.domain.queries.settings(tenant)).toEqual({ reservationTtlSeconds: 60, cashOnDeliveryTtlSeconds: 3 * 86400 });
  });

  it('reserves a SKU whose stock rows together hold more than 2^31 - 1 units', async () => {
    // Two rows near the per-row maximum: together past it.
    for (const locationId of [main, backup]) {
      await receive('BIG-1', locationId, 1);
      await raiseOnHand(h, 'BIG-1', locationId, 2_000_000_001);
    }
    expect((await h.domain.reservations.reserve(tenant, { reference: 'big-1', lines: [{ sku: 'BIG-1', quantity: 3 }] })).status).toBe('confirmed');
    const refused = await h.domain.reservations.reserve(tenant, { reference: 'big-2', lines: [{ sku: 'BIG-1', quantity: 1_000_000 }, { sku: 'NONE-1', quantity: 1 }] });
    expect(refused.status).toBe('rejected');
    expect(await ledgerMismatches(h)).toEqual([]);
  });

  it('a payment after expiry commits the stock again when it is still there, all lines by priority', async () => {
    await receive('L-1', main, 1);
    await receive('L-1', backup, 5);
    await receive('L-2', main, 2);
    const lines = [{ sku: 'L-1', quantity: 3 }, { sku: 'L-2', quantity: 2 }];
    expect((await h.domain.reservations.reserve(tenant, { reference: 'late-ok', lines, ttlSeconds: 1 })).status).toBe('confirmed');
    await new Promise((r) => setTimeout(r, 1100));
    await h.domain.reservations.expireDue(tenant);
    expect((await h.domain.reservations.get(tenant, 'late-ok'))?.status).toBe('expired');
    const committed = await h.domain.reservations.commit(tenant, 'late-ok', { actor: 'event:orders', correlationId: 'paid-1' });
    expect(committed.status).toBe('committed');
    expect(committed.allocations.map((a) => [a.sku, a.locationId === main ? 'main' : 'backup', a.quantity]).sort()).toEqual([
      ['L-1', 'backup', 2], ['L-1', 'main', 1], ['L-2', 'main', 2],
    ]);
    expect(await levelsOf('L-1')).toEqual([{ at: 'backup', onHand: 3, reserved: 0 }, { at: 'main', onHand: 0, reserved: 0 }]);
    expect(await levelsOf('L-2')).toEqual([{ at: 'main', onHand: 0, reserved: 0 }]);
    const ledger = await h.domain.queries.ledger(tenant, { sku: 'L-2' });
    expect(ledger.items.map((i) => [i.type, i.delta, i.deltaReserved, i.actor])).toEqual([
      ['commit', -2, -2, 'event:orders'],
      ['reserve', 0, 2, 'event:orders'],
      ['expire', 0, -2, 'system:expiry'],
      ['reserve', 0, 2, null],
      ['receive', 2, 0, null],
    ]);
    expect(await eventsFor('late-ok')).toEqual(['inventory.reservation.confirmed', 'inventory.reservation.expired', 'inventory.reservation.committed']);
    // A redelivered payment changes nothing more.
    expect((await h.domain.reservations.commit(tenant, 'late-ok')).status).toBe('committed');
    expect(await levelsOf('L-1')).toEqual([{ at: 'backup', onHand: 3, reserved: 0 }, { at: 'main', onHand: 0, reserved: 0 }]);
    expect(await eventsFor('late-ok')).toHaveLength(3);
    expect(await ledgerMismatches(h)).toEqual([]);
  });

  it('a payment after expiry is refused for good when the stock went to someone else, and changes no stock', async () => {
    await receive('L-3', main, 2);
    await receive('L-4', main, 5);
    const lines = [{ sku: 'L-3', quantity: 2 }, { sku: 'L-4', quantity: 1 }];
    expect((await h.domain.reservations.reserve(tenant, { reference: 'late-gone', lines, ttlSeconds: 1 })).status).toBe('confirmed');
    await new Promise((r) => setTimeout(r, 1100));
    await h.domain.reservations.expireDue(tenant);
    expect((await h.domain.reservations.reserve(tenant, { reference: 'took-it', lines: [{ sku: 'L-3', quantity: 1 }] })).status).toBe('confirmed');
    const refused = await h.domain.reservations.commit(tenant, 'late-gone', { actor: 'event:orders' });
    expect(refused).toMatchObject({ status: 'expired' });
    expect(refused.commitRefusedAt).toBeInstanceOf(Date);
    expect(await levelsOf('L-3')).toEqual([{ at: 'main', onHand: 2, reserved: 1 }]);
    expect(await levelsOf('L-4')).toEqual([{ at: 'main', onHand: 5, reserved: 0 }]);
    const [event] = await h.admin(
      `SELECT envelope->'data' AS data FROM inventory.outbox_events WHERE type = 'inventory.reservation.commit_refused' AND envelope->'data'->>'reference' = 'late-gone'`,
    );
    expect(event.data).toMatchObject({ reference: 'late-gone', reason: 'expired', shortfalls: [{ sku: 'L-3', condition: 'new', requested: 2, available: 1 }] });
    // Final: stock arriving later and the payment redelivered commit nothing, and nothing is announced again.
    await h.domain.reservations.release(tenant, 'took-it');
    expect((await h.domain.reservations.commit(tenant, 'late-gone')).status).toBe('expired');
    expect(await levelsOf('L-3')).toEqual([{ at: 'main', onHand: 2, reserved: 0 }]);
    expect(await eventsFor('late-gone')).toEqual([
      'inventory.reservation.confirmed', 'inventory.reservation.expired', 'inventory.reservation.commit_refused',
    ]);
  });

  it('the sweep goes on past a tenant whose expiry fails, and reports it', async () => {
    await receive('SW-1', main, 3);
    await h.domain.reservations.reserve(tenant, { reference: 'sweep-on', lines: [{ sku: 'SW-1', quantity: 1 }], ttlSeconds: 1 });
    await h.admin(`UPDATE inventory.reservations SET expires_at = now() - interval '1 second' WHERE reference = 'sweep-on'`);
    const failing = randomUUID();
    await h.admin(`INSERT INTO inventory.known_tenants (tenant_id) VALUES ('${failing}') ON CONFLICT DO NOTHING`);
    const real = h.domain.reservations.expireDue.bind(h.domain.reservations);
    const spy = jest.spyOn(h.domain.reservations, 'expireDue').mockImplementation((t, n) => (t === failing ? Promise.reject(new Error('tenant down')) : real(t, n)));
    try {
      const failed: string[] = [];
      await h.domain.reservations.expireDueAllTenants(200, (t) => failed.push(t));
      expect(failed).toEqual([failing]);
      expect((await h.domain.reservations.get(tenant, 'sweep-on'))?.status).toBe('expired');
      await expect(h.domain.reservations.expireDueAllTenants()).rejects.toThrow(/expiry failed for 1 tenant/);
    } finally {
      spy.mockRestore();
      await h.admin(`DELETE FROM inventory.known_tenants WHERE tenant_id = '${failing}'`);
    }
  });

  it('expires many at once without losing a unit (batches, SKIP LOCKED)', async () => {
    await receive('E-2', main, 50);
    await Promise.all(Array.from({ length: 50 }, (_, i) => h.domain.reservations.reserve(tenant, { reference: `bulk-${i}`, lines: [{ sku: 'E-2', quantity: 1 }], ttlSeconds: 1 })));
    await new Promise((r) => setTimeout(r, 1100));
    const swept = await Promise.all([h.domain.reservations.expireDue(tenant, 7), h.domain.reservations.expireDue(tenant, 7)]);
    expect(swept[0] + swept[1]).toBe(50);
    expect(await levelsOf('E-2')).toEqual([{ at: 'main', onHand: 50, reserved: 0 }]);
    expect(await ledgerMismatches(h)).toEqual([]);
  });

  it('another tenant cannot see, commit or release this tenant reservations', async () => {
    const other = newTenant();
    expect(await h.domain.reservations.get(other, 'order-e')).toBeNull();
    // For the other tenant there is no such reservation: its release only withdraws that tenant's own future one.
    expect(await h.domain.reservations.release(other, 'order-e')).toBeNull();
    expect((await h.domain.reservations.get(tenant, 'order-e'))?.status).toBe('active');
  });
});

describe('batched reserve', () => {
  it('concurrent requests of every kind share one transaction, and each gets its own answer', async () => {
    // One batch in flight at a time: the first request goes alone, the others wait and go together.
    const batched = new InventoryDomain(h.ds, { kickHotQueue: false, batching: { maxInFlight: 1 } });
    await receive('B-1', main, 3);
    await receive('B-2', main, 10);
    await receive('B-HOT', main, 5);
    await batched.hotQueue.flag(tenant, 'B-HOT');
    const earlier = await batched.reservations.reserve(tenant, { reference: 'b-existing', lines: [{ sku: 'B-2', quantity: 1 }] });
    const reserve = (reference: string, lines: { sku: string; quantity: number }[]) => batched.reservations.reserve(tenant, { reference, lines }, { actor: 'test', correlationId: `cause-${reference}` });
    const [lone, existing, short, firstTwo, secondTwo, hot, multi, dup1, dup2] = await Promise.all([
      reserve('b-lone', [{ sku: 'B-2', quantity: 1 }]),
      reserve('b-existing', [{ sku: 'B-2', quantity: 1 }]),
      reserve('b-short', [{ sku: 'B-1', quantity: 5 }]),
      reserve('b-1a', [{ sku: 'B-1', quantity: 2 }]),
      reserve('b-1b', [{ sku: 'B-1', quantity: 2 }]),
      reserve('b-hot', [{ sku: 'B-HOT', quantity: 1 }]),
      reserve('b-multi', [{ sku: 'B-2', quantity: 1 }, { sku: 'B-HOT', quantity: 1 }]),
      reserve('b-dup', [{ sku: 'B-2', quantity: 2 }]),
      reserve('b-dup', [{ sku: 'B-2', quantity: 2 }]),
    ]);
    expect([lone, existing, short, firstTwo, secondTwo, hot, multi, dup1, dup2].map((o) => [o.reference, o.status])).toEqual([
      ['b-lone', 'confirmed'],
      ['b-existing', 'confirmed'],
      ['b-short', 'rejected'],
      ['b-1a', 'confirmed'],
      // Locked together with b-1a and decided after it, in arrival order: 1 unit left, 2 wanted.
      ['b-1b', 'rejected'],
      ['b-hot', 'queued'],
      ['b-multi', 'queued'],
      ['b-dup', 'confirmed'],
      ['b-dup', 'confirmed'],
    ]);
    if (existing.status !== 'confirmed' || earlier.status !== 'confirmed' || dup1.status !== 'confirmed' || dup2.status !== 'confirmed') throw new Error('expected confirmed');
    expect(existing.reservationId).toBe(earlier.reservationId);
    expect(dup2.reservationId).toBe(dup1.reservationId);
    if (secondTwo.status !== 'rejected') throw new Error('expected rejected');
    expect(secondTwo.shortfalls).toEqual([{ sku: 'B-1', condition: 'new', requested: 2, available: 1 }]);
    const [{ transactions }] = await h.admin(
      `SELECT count(DISTINCT xmin::text)::int AS transactions FROM inventory.reservations WHERE reference IN ('b-short', 'b-1a', 'b-1b', 'b-dup')`,
    );
    expect(transactions).toBe(1);
    expect(await levelsOf('B-1')).toEqual([{ at: 'main', onHand: 3, reserved: 2 }]);
    expect(await levelsOf('B-2')).toEqual([{ at: 'main', onHand: 10, reserved: 4 }]);
    // Each request's ledger rows name its own cause.
    const ledger = await h.admin(`SELECT reference, correlation_id FROM inventory.ledger WHERE reference IN ('b-1a', 'b-dup') ORDER BY reference`);
    expect(ledger).toEqual([
      { reference: 'b-1a', correlation_id: 'cause-b-1a' },
      { reference: 'b-dup', correlation_id: 'cause-b-dup' },
    ]);
    expect(await eventsFor('b-1b')).toEqual(['inventory.reservation.rejected']);
    expect(await eventsFor('b-dup')).toEqual(['inventory.reservation.confirmed']);
    const queued = await h.admin(`SELECT idempotency_key, sku FROM inventory.reservation_requests WHERE idempotency_key IN ('b-hot', 'b-multi') ORDER BY seq`);
    expect(queued).toEqual([
      { idempotency_key: 'b-hot', sku: 'B-HOT' },
      { idempotency_key: 'b-multi', sku: 'B-HOT' },
    ]);
    expect(await batched.hotQueue.drain(tenant, 'B-HOT')).toBe(2);
    expect(await levelsOf('B-HOT')).toEqual([{ at: 'main', onHand: 5, reserved: 2 }]);
    expect(await levelsOf('B-2')).toEqual([{ at: 'main', onHand: 10, reserved: 5 }]);
    expect(await h.admin(`SELECT sku FROM inventory.hot_queue_heads WHERE sku = 'B-HOT'`)).toEqual([]);
    expect(await ledgerMismatches(h)).toEqual([]);
    await batched.hotQueue.unflag(tenant, 'B-HOT');
  });
});

describe('hot-SKU queue', () => {
  it('a queued request is idempotent per reference, and a release before service withdraws it', async () => {
    // A domain without the in-process wake-up, so requests wait until drained explicitly.
    const manual = new InventoryDomain(h.ds, { kickHotQueue: false });
    await receive('Q-1', main, 5);
    await manual.hotQueue.flag(tenant, 'Q-1');
    const a = await manual.reservations.reserve(tenant, { reference: 'q-a', lines: [{ sku: 'Q-1', quantity: 2 }] });
    const again = await manual.reservations.reserve(tenant, { reference: 'q-a', lines: [{ sku: 'Q-1', quantity: 2 }] });
    const b = await manual.reservations.reserve(tenant, { reference: 'q-b', lines: [{ sku: 'Q-1', quantity: 2 }] });
    if (a.status !== 'queued' || again.status !== 'queued' || b.status !== 'queued') throw new Error('expected queued outcomes');
    expect(again.requestId).toBe(a.requestId);
    expect(await manual.reservations.release(tenant, 'q-a')).toBeNull();
    expect(await manual.hotQueue.drain(tenant, 'Q-1')).toBe(1);
    expect(await manual.reservations.get(tenant, 'q-a')).toBeNull();
    expect((await manual.reservations.get(tenant, 'q-b'))?.status).toBe('active');
    expect(await levelsOf('Q-1')).toEqual([{ at: 'main', onHand: 5, reserved: 2 }]);
    const outcomes = await h.admin(`SELECT idempotency_key, outcome FROM inventory.reservation_requests WHERE sku = 'Q-1' ORDER BY seq`);
    expect(outcomes).toEqual([{ idempotency_key: 'q-a', outcome: 'withdrawn' }, { idempotency_key: 'q-b', outcome: 'confirmed' }]);
    // The emptied queue's head is gone, so the poller has nothing left to look at.
    expect(await h.admin(`SELECT sku FROM inventory.hot_queue_heads WHERE sku = 'Q-1'`)).toEqual([]);
    await manual.hotQueue.unflag(tenant, 'Q-1');
    expect((await manual.hotQueue.hotSkus(tenant, { limit: 100 })).items).toEqual([]);
  });

  it('a release that comes before the reserve (its order ended first) makes the reserve hold nothing, queued or not', async () => {
    await receive('W-1', main, 5);
    expect(await h.domain.reservations.release(tenant, 'w-early')).toBeNull();
    expect(await h.domain.reservations.release(tenant, 'w-early')).toBeNull();
    const late = await h.domain.reservations.reserve(tenant, { reference: 'w-early', lines: [{ sku: 'W-1', quantity: 2 }] });
    expect(late).toEqual({ status: 'withdrawn', reference: 'w-early' });
    expect(await h.domain.reservations.get(tenant, 'w-early')).toBeNull();
    expect(await eventsFor('w-early')).toEqual([]);
    // A queued request withdrawn by its release, placed again once the SKU is no longer hot: still nothing.
    const manual = new InventoryDomain(h.ds, { kickHotQueue: false });
    await manual.hotQueue.flag(tenant, 'W-1');
    expect((await manual.reservations.reserve(tenant, { reference: 'w-queued', lines: [{ sku: 'W-1', quantity: 2 }] })).status).toBe('queued');
    expect(await manual.reservations.release(tenant, 'w-queued')).toBeNull();
    expect(await manual.hotQueue.drain(tenant, 'W-1')).toBe(0);
    await manual.hotQueue.unflag(tenant, 'W-1');
    expect(await manual.reservations.reserve(tenant, { reference: 'w-queued', lines: [{ sku: 'W-1', quantity: 2 }] })).toEqual({ status: 'withdrawn', reference: 'w-queued' });
    expect(await levelsOf('W-1')).toEqual([{ at: 'main', onHand: 5, reserved: 0 }]);
    // A release after the reservation still releases it.
    expect((await h.domain.reservations.reserve(tenant, { reference: 'w-normal', lines: [{ sku: 'W-1', quantity: 1 }] })).status).toBe('confirmed');
    expect((await h.domain.reservations.release(tenant, 'w-normal'))?.status).toBe('released');
    expect(await levelsOf('W-1')).toEqual([{ at: 'main', onHand: 5, reserved: 0 }]);
  });

  it('a SKU stays hot while its queue holds requests, after its flag lapsed or was lifted: later requests wait behind', async () => {
    const manual = new InventoryDomain(h.ds, { kickHotQueue: false });
    await receive('Q-3', main, 2);
    await manual.hotQueue.flag(tenant, 'Q-3');
    expect((await manual.reservations.reserve(tenant, { reference: 'q3-first', lines: [{ sku: 'Q-3', quantity: 2 }] })).status).toBe('queued');
    await manual.hotQueue.unflag(tenant, 'Q-3');
    // The first request is still queued: the second must not take the stock ahead of it.
    expect((await manual.reservations.reserve(tenant, { reference: 'q3-second', lines: [{ sku: 'Q-3', quantity: 2 }] })).status).toBe('queued');
    expect(await manual.hotQueue.drain(tenant, 'Q-3')).toBe(2);
    expect((await manual.reservations.get(tenant, 'q3-first'))?.status).toBe('active');
    expect((await manual.reservations.get(tenant, 'q3-second'))?.status).toBe('rejected');
    const outcomes = await h.admin(`SELECT idempotency_key, outcome FROM inventory.reservation_requests WHERE sku = 'Q-3' ORDER BY seq`);
    expect(outcomes).toEqual([{ idempotency_key: 'q3-first', outcome: 'confirmed' }, { idempotency_key: 'q3-second', outcome: 'rejected' }]);
    // The queue drained and its head is gone: the SKU is no longer hot, requests take the normal path again.
    await receive('Q-3', main, 1);
    expect((await manual.reservations.reserve(tenant, { reference: 'q3-third', lines: [{ sku: 'Q-3', quantity: 1 }] })).status).toBe('confirmed');
  });

  it('a request served by the queue writes ledger rows naming who asked and the causing event, as an immediate one does', async () => {
    const manual = new InventoryDomain(h.ds, { kickHotQueue: false });
    await receive('Q-2', main, 5);
    await manual.hotQueue.flag(tenant, 'Q-2');
    const placed = { actor: 'event:orders', correlationId: 'evt-placed-1' };
    expect((await manual.reservations.reserve(tenant, { reference: 'q-who', lines: [{ sku: 'Q-2', quantity: 1 }] }, placed)).status).toBe('queued');
    expect((await manual.reservations.reserve(tenant, { reference: 'q-anon', lines: [{ sku: 'Q-2', quantity: 1 }] })).status).toBe('queued');
    expect(await manual.hotQueue.drain(tenant, 'Q-2')).toBe(2);
    const ledger = await h.domain.queries.ledger(tenant, { sku: 'Q-2' });
    const reserves = ledger.items.filter((i) => i.type === 'reserve').map((i) => [i.reference, i.actor, i.correlationId]);
    expect(reserves.sort()).toEqual([
      ['q-anon', 'system:hot-queue', 'q-anon'],
      ['q-who', 'event:orders', 'evt-placed-1'],
    ]);
    await manual.hotQueue.unflag(tenant, 'Q-2');
  });
});

describe('a release racing the reservation of its order', () => {
  /**
   * Holds `lockSql`'s rows in a transaction of its own, runs `reserve` until it waits on them, runs `release` meanwhile
   * (which must wait for the reservation, or find nothing yet), then lets both finish.
   */
  async function race(lockSql: string, params: unknown[], reserve: () => Promise<unknown>, release: () => Promise<unknown>): Promise<void> {
    const locker = new Client({ connectionString: h.db.url });
    await locker.connect();
    const admin = (sql: string, args: unknown[]) => h.admin<{ n: number }>(sql, args);
    try {
      await locker.query('BEGIN');
      await locker.query(lockSql, params);
      const reserving = reserve();
      await untilLockWaiters(admin, 1, undefined, 2_000);
      let released = false;
      const releasing = release().finally(() => (released = true));
      // The release either waits for the reservation (a second lock wait) or has finished without it.
      const deadline = Date.now() + 2_000;
      while (!released && (await lockWaiters(admin)) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await locker.query('COMMIT');
      await Promise.all([reserving, releasing]);
    } finally {
      await locker.end();
    }
  }

  it('the normal path: the order ends holding nothing', async () => {
    await receive('RACE-1', main, 5);
    await race(
      `SELECT id FROM inventory.stock_levels WHERE tenant_id = $1 AND sku = 'RACE-1' FOR UPDATE`,
      [tenant],
      () => h.domain.reservations.reserve(tenant, { reference: 'race-1', lines: [{ sku: 'RACE-1', quantity: 3 }], cashOnDelivery: true }),
      () => h.domain.reservations.release(tenant, 'race-1'),
    );
    expect((await h.domain.reservations.get(tenant, 'race-1'))?.status).not.toBe('active');
    expect(await levelsOf('RACE-1')).toEqual([{ at: 'main', onHand: 5, reserved: 0 }]);
    expect(await ledgerMismatches(h)).toEqual([]);
  });

  it('the hot-SKU queue: the request is withdrawn, not served', async () => {
    const manual = new InventoryDomain(h.ds, { kickHotQueue: false });
    await receive('RACE-H', main, 5);
    await manual.hotQueue.flag(tenant, 'RACE-H');
    // An earlier request makes the queue's head exist, so the locker can hold it while the next one is queued.
    expect((await manual.reservations.reserve(tenant, { reference: 'race-h0', lines: [{ sku: 'RACE-H', quantity: 1 }] })).status).toBe('queued');
    await race(
      `SELECT sku FROM inventory.hot_queue_heads WHERE tenant_id = $1 AND sku = 'RACE-H' FOR UPDATE`,
      [tenant],
      () => manual.reservations.reserve(tenant, { reference: 'race-h1', lines: [{ sku: 'RACE-H', quantity: 3 }], cashOnDelivery: true }),
      () => manual.reservations.release(tenant, 'race-h1'),
    );
    expect(await manual.hotQueue.drain(tenant, 'RACE-H')).toBe(1);
    expect(await manual.reservations.get(tenant, 'race-h1')).toBeNull();
    expect(await levelsOf('RACE-H')).toEqual([{ at: 'main', onHand: 5, reserved: 1 }]);
    await manual.hotQueue.unflag(tenant, 'RACE-H');
  });
});
