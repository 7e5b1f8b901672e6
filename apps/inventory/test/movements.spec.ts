import { randomUUID } from 'node:crypto';
import { InventoryError } from '../src/domain';
import { ledgerMismatches, newTenant, raiseOnHand, startHarness, type Harness } from './harness';

let h: Harness;
const tenant = newTenant();
const other = newTenant();
let main: string;
let backup: string;

beforeAll(async () => {
  h = await startHarness();
  main = (await h.domain.locations.create(tenant, { code: 'MAIN', name: 'Main warehouse', priority: 1 })).id;
  backup = (await h.domain.locations.create(tenant, { code: 'BACKUP', name: 'Backup', priority: 2 })).id;
  await h.knowSkus(tenant, 'MV-1', 'MV-2', 'MV-3', 'MV-MAX');
  // The other tenant's catalog has MV-1 too: its refusal below is about the location.
  await h.knowSkus(other, 'MV-1');
});
afterAll(() => h?.close());

const level = async (sku: string, locationId: string) =>
  (await h.domain.queries.levels(tenant, { sku, locationId }))[0];

const conflict = (e: unknown) => e instanceof InventoryError && e.kind === 'conflict';

describe('locations', () => {
  it('keeps codes unique per tenant, and another tenant may reuse a code', async () => {
    await expect(h.domain.locations.create(tenant, { code: 'MAIN', name: 'again' })).rejects.toMatchObject({ kind: 'conflict', code: 'location_code_taken' });
    const theirs = await h.domain.locations.create(other, { code: 'MAIN', name: 'theirs' });
    expect(theirs.code).toBe('MAIN');
    expect((await h.domain.locations.page(tenant)).items.map((l) => l.code)).toEqual(['MAIN', 'BACKUP']);
  });

  it('nests bins under a warehouse of the same tenant only', async () => {
    const bin = await h.domain.locations.create(tenant, { code: 'MAIN-A1', name: 'A1', parentId: main, type: 'bin', pickSequence: 3 });
    expect(bin).toMatchObject({ parentId: main, type: 'bin', pickSequence: 3 });
    await expect(h.domain.locations.create(other, { code: 'X', name: 'x', parentId: main })).rejects.toMatchObject({ kind: 'invalid', code: 'unknown_location' });
  });

  it('keeps the hierarchy: a bin sits in a warehouse, nothing sits in a bin; a refusal writes nothing', async () => {
    const zone = await h.domain.locations.create(tenant, { code: 'MAIN-Z1', name: 'Zone 1', parentId: main });
    expect(zone).toMatchObject({ type: 'warehouse', parentId: main });
    const bin = await h.domain.locations.create(tenant, { code: 'MAIN-Z1-B1', name: 'B1', parentId: zone.id, type: 'bin' });
    const before = await h.admin(`SELECT id FROM inventory.locations ORDER BY id`);
    await expect(h.domain.locations.create(tenant, { code: 'LOOSE', name: 'loose bin', type: 'bin' })).rejects.toMatchObject({ kind: 'invalid', code: 'parent_required' });
    await expect(h.domain.locations.create(tenant, { code: 'BIN-IN-BIN', name: 'x', type: 'bin', parentId: bin.id })).rejects.toMatchObject({
      kind: 'invalid',
      code: 'invalid_parent',
      details: { locationType: 'bin', parentType: 'bin', parentId: bin.id },
    });
    await expect(h.domain.locations.create(tenant, { code: 'WH-IN-BIN', name: 'x', parentId: bin.id })).rejects.toMatchObject({ kind: 'invalid', code: 'invalid_parent' });
    await expect(h.domain.locations.create(tenant, { code: 'ORPHAN', name: 'x', type: 'bin', parentId: randomUUID() })).rejects.toMatchObject({ kind: 'invalid', code: 'unknown_location' });
    await expect(h.domain.locations.create(other, { code: 'THEIR-BIN', name: 'x', type: 'bin', parentId: zone.id })).rejects.toMatchObject({ kind: 'invalid', code: 'unknown_location' });
    expect(await h.admin(`SELECT id FROM inventory.locations ORDER BY id`)).toEqual(before);
  });
});

describe('movements', () => {
  it('receive, adjust and transfer move stock and write one ledger row per row changed', async () => {
    await h.domain.movements.apply(tenant, { type: 'receive', sku: 'MV-1', locationId: main, quantity: 10 }, { actor: 'user:1', correlationId: 'c-1' });
    await h.domain.movements.apply(tenant, { type: 'adjust', sku: 'MV-1', locationId: main, quantity: -2, reason: 'damage' });
    const moved = await h.domain.movements.apply(tenant, { type: 'transfer', sku: 'MV-1', locationId: main, toLocationId: backup, quantity: 3 });
    expect(moved.levels.map((l) => [l.locationId, l.onHand])).toEqual([[main, 5], [backup, 3]]);
    const { items } = await h.domain.queries.ledger(tenant, { sku: 'MV-1' });
    expect(items.map((i) => [i.type, i.reason, i.delta, i.before, i.after])).toEqual([
      ['transfer_in', null, 3, 0, 3],
      ['transfer_out', null, -3, 8, 5],
      ['adjust', 'damage', -2, 10, 8],
      ['receive', null, 10, 0, 10],
    ]);
    expect(items[3]).toMatchObject({ actor: 'user:1', correlationId: 'c-1' });
    expect(await ledgerMismatches(h)).toEqual([]);
  });

  it('refuses (409) a movement leaving on hand below zero or below reserved, and changes nothing', async () => {
    await h.domain.movements.apply(tenant, { type: 'receive', sku: 'MV-2', locationId: main, quantity: 5 });
    await h.domain.reservations.reserve(tenant, { reference: 'mv-2-order', lines: [{ sku: 'MV-2', quantity: 3 }] });
    const before = await h.domain.queries.ledger(tenant, { sku: 'MV-2' });
    const attempts = [
      h.domain.movements.apply(tenant, { type: 'adjust', sku: 'MV-2', locationId: main, quantity: -6, reason: 'loss' }),
      h.domain.movements.apply(tenant, { type: 'adjust', sku: 'MV-2', locationId: main, quantity: -3, reason: 'count' }),
      h.domain.movements.apply(tenant, { type: 'transfer', sku: 'MV-2', locationId: main, toLocationId: backup, quantity: 3 }),
      h.domain.movements.apply(tenant, { type: 'transfer', sku: 'MV-2', locationId: backup, toLocationId: main, quantity: 1 }),
    ];
    for (const a of attempts) await expect(a.catch((e) => conflict(e))).resolves.toBe(true);
    expect(await level('MV-2', main)).toMatchObject({ onHand: 5, reserved: 3, available: 2 });
    // Not even the empty destination row of the refused transfer remains.
    expect(await h.domain.queries.levels(tenant, { sku: 'MV-2', locationId: backup })).toEqual([]);
    expect((await h.domain.queries.ledger(tenant, { sku: 'MV-2' })).items).toEqual(before.items);
    // Within the limit it works: two units are free.
    await h.domain.movements.apply(tenant, { type: 'adjust', sku: 'MV-2', locationId: main, quantity: -2, reason: 'count' });
    expect(await level('MV-2', main)).toMatchObject({ onHand: 3, reserved: 3, available: 0 });
  });

  it('refuses (409) a movement that would put more units on hand than a stock row holds (2^31 - 1), and changes nothing', async () => {
    await h.domain.movements.apply(tenant, { type: 'receive', sku: 'MV-MAX', locationId: main, quantity: 1 });
    await raiseOnHand(h, 'MV-MAX', main, 2_147_483_641);
    const before = await h.domain.queries.ledger(tenant, { sku: 'MV-MAX' });
    for (const attempt of [
      h.domain.movements.apply(tenant, { type: 'receive', sku: 'MV-MAX', locationId: main, quantity: 7 }),
      h.domain.movements.apply(tenant, { type: 'adjust', sku: 'MV-MAX', locationId: main, quantity: 1_000_000, reason: 'found' }),
    ]) {
      await expect(attempt).rejects.toMatchObject({ kind: 'conflict', code: 'stock_limit_exceeded' });
    }
    expect((await h.domain.queries.ledger(tenant, { sku: 'MV-MAX' })).items).toEqual(before.items);
    await h.domain.movements.apply(tenant, { type: 'receive', sku: 'MV-MAX', locationId: main, quantity: 6 });
    expect(await level('MV-MAX', main)).toMatchObject({ onHand: 2_147_483_647 });
    expect(await ledgerMismatches(h)).toEqual([]);
  });

  it('rejects bad input before touching the database', async () => {
    const bad = [
      { type: 'receive', sku: 'X', locationId: main, quantity: 0 },
      { type: 'receive', sku: 'X', locationId: main, quantity: -1 },
      { type: 'receive', sku: 'X', locationId: main, quantity: 1.5 },
      { type: 'receive', sku: 'X', locationId: main, quantity: 10_000_001 },
      { type: 'receive', sku: '', locationId: main, quantity: 1 },
      { type: 'adjust', sku: 'X', locationId: main, quantity: 1, reason: 'theft' },
      { type: 'transfer', sku: 'X', locationId: main, toLocationId: main, quantity: 1 },
      { type: 'receive', sku: 'X', locationId: main, quantity: 1, condition: 'broken' },
    ];
    for (const m of bad) await expect(h.domain.movements.apply(tenant, m as never)).rejects.toMatchObject({ kind: 'invalid' });
    await expect(h.domain.movements.apply(tenant, { type: 'receive', sku: 'X', locationId: 'nope', quantity: 1 })).rejects.toMatchObject({ kind: 'invalid', code: 'unknown_location' });
    expect(await h.domain.queries.levels(tenant, { sku: 'X' })).toEqual([]);
  });

  it('another tenant cannot move stock into this tenant location, nor see its levels', async () => {
    await expect(h.domain.movements.apply(other, { type: 'receive', sku: 'MV-1', locationId: main, quantity: 1 })).rejects.toMatchObject({ kind: 'invalid', code: 'unknown_location' });
    expect(await h.domain.queries.levels(other, { sku: 'MV-1' })).toEqual([]);
  });

  it('keeps the ledger append-only even for the runtime role', async () => {
    await expect(h.domain.tenants.run(tenant, (tx) => tx.manager.query(`UPDATE ledger SET delta_on_hand = 0`))).rejects.toThrow(/append-only/);
    await expect(h.domain.tenants.run(tenant, (tx) => tx.manager.query(`DELETE FROM ledger`))).rejects.toThrow(/append-only/);
  });

  it('emits stock.changed and, when available falls to the reorder point, stock.low once', async () => {
    const policy = await h.domain.movements.setReorderPolicy(tenant, { sku: 'MV-3', locationId: main, reorderPoint: 2, reorderQuantity: 10 });
    expect(policy).toMatchObject({ sku: 'MV-3', locationId: main, onHand: 0, reorderPoint: 2, reorderQuantity: 10 });
    await h.domain.movements.apply(tenant, { type: 'receive', sku: 'MV-3', locationId: main, quantity: 4 });
    await h.domain.movements.apply(tenant, { type: 'adjust', sku: 'MV-3', locationId: main, quantity: -2, reason: 'damage' });
    await h.domain.movements.apply(tenant, { type: 'adjust', sku: 'MV-3', locationId: main, quantity: -1, reason: 'loss' });
    const events = await h.admin(
      `SELECT type, envelope->'data' AS data FROM inventory.outbox_events WHERE envelope->'data'->>'sku' = 'MV-3' ORDER BY seq`,
    );
    // The policy finds the empty row low at once; the receive re-arms it, and the dip to the point alerts again.
    expect(events.map((e) => e.type)).toEqual([
      'inventory.stock.low',
      'inventory.stock.changed',
      'inventory.stock.changed',
      'inventory.stock.low',
      'inventory.stock.changed',
    ]);
    expect(events[0].data).toMatchObject({ available: 0, reorderPoint: 2, reorderQuantity: 10 });
    expect(events[3].data).toMatchObject({ available: 2, reorderPoint: 2, reorderQuantity: 10 });
  });

  describe('inventory.stock.low once per dip', () => {
    const lowEvents = async (sku: string) =>
      h.admin(`SELECT envelope->'data' AS data FROM inventory.outbox_events WHERE type = 'inventory.stock.low' AND envelope->'data'->>'sku' = $1 ORDER BY seq`, [sku]);

    it('is not sent again when reservations come and go, only after a restock lifts available above the point', async () => {
      await h.knowSkus(tenant, 'LOW-1');
      await h.domain.movements.apply(tenant, { type: 'receive', sku: 'LOW-1', locationId: main, quantity: 6 });
      await h.domain.movements.setReorderPolicy(tenant, { sku: 'LOW-1', locationId: main, reorderPoint: 5, reorderQuantity: 50 });
      expect(await lowEvents('LOW-1')).toEqual([]);
      // Three abandoned checkouts: each takes available to 5 and gives it back. One alert, not three.
      for (let i = 0; i < 3; i++) {
        expect((await h.domain.reservations.reserve(tenant, { reference: `low-1-${i}`, lines: [{ sku: 'LOW-1', quantity: 1 }] })).status).toBe('confirmed');
        expect((await h.domain.reservations.release(tenant, `low-1-${i}`))?.status).toBe('released');
      }
      expect(await lowEvents('LOW-1')).toEqual([{ data: expect.objectContaining({ available: 5, reorderPoint: 5, reorderQuantity: 50 }) }]);
      // Still at the point after a restock that does not lift it above: no second alert either.
      await h.domain.movements.apply(tenant, { type: 'adjust', sku: 'LOW-1', locationId: main, quantity: -3, reason: 'damage' });
      await h.domain.movements.apply(tenant, { type: 'receive', sku: 'LOW-1', locationId: main, quantity: 1 });
      expect(await lowEvents('LOW-1')).toHaveLength(1);
      // Restocked above the point, the next dip alerts again.
      await h.domain.movements.apply(tenant, { type: 'receive', sku: 'LOW-1', locationId: main, quantity: 20 });
      await h.domain.movements.apply(tenant, { type: 'adjust', sku: 'LOW-1', locationId: main, quantity: -20, reason: 'count' });
      expect(await lowEvents('LOW-1')).toEqual([expect.anything(), { data: expect.objectContaining({ available: 4 }) }]);
      // Changing the policy of a row already alerted does not repeat it; one that lifts the point above re-arms it.
      await h.domain.movements.setReorderPolicy(tenant, { sku: 'LOW-1', locationId: main, reorderPoint: 5, reorderQuantity: 60 });
      expect(await lowEvents('LOW-1')).toHaveLength(2);
      await h.domain.movements.setReorderPolicy(tenant, { sku: 'LOW-1', locationId: main, reorderPoint: 1, reorderQuantity: 60 });
      await h.domain.movements.setReorderPolicy(tenant, { sku: 'LOW-1', locationId: main, reorderPoint: 4, reorderQuantity: 60 });
      expect(await lowEvents('LOW-1')).toEqual([expect.anything(), expect.anything(), { data: expect.objectContaining({ available: 4, reorderPoint: 4 }) }]);
    });

    it('is never sent for a row without a reorder policy, even when it runs out', async () => {
      await h.knowSkus(tenant, 'LOW-2');
      await h.domain.movements.apply(tenant, { type: 'receive', sku: 'LOW-2', locationId: main, quantity: 5 });
      await h.domain.movements.apply(tenant, { type: 'transfer', sku: 'LOW-2', locationId: main, toLocationId: backup, quantity: 5 });
      await h.domain.movements.apply(tenant, { type: 'adjust', sku: 'LOW-2', locationId: backup, quantity: -5, reason: 'loss' });
      expect(await lowEvents('LOW-2')).toEqual([]);
    });
  });
});
