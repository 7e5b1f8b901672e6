import { randomUUID } from 'node:crypto';
import type { Logger } from '@nestjs/common';
import { CatalogEventTypes, type VariantEventV1 } from '@tessera/contracts';
import { InventoryError } from '../src/domain';
import { catalogVariant, ledgerMismatches, newTenant, startHarness, variantEvent, type Harness } from './harness';

/*
 * Inventory's catalog read model (catalog_variants), fed through the real catalog events handler and inbox, and the
 * rule it serves: staff movements only create stock for SKUs the tenant's catalog has.
 */

let h: Harness;
const tenant = newTenant();
const other = newTenant();
let main: string;
let backup: string;
let theirs: string;

beforeAll(async () => {
  h = await startHarness();
  main = (await h.domain.locations.create(tenant, { code: 'MAIN', name: 'Main', priority: 1 })).id;
  backup = (await h.domain.locations.create(tenant, { code: 'BACKUP', name: 'Backup', priority: 2 })).id;
  theirs = (await h.domain.locations.create(other, { code: 'MAIN', name: 'Theirs' })).id;
});
afterAll(() => h?.close());

const unknownSku = (sku: string) => expect.objectContaining({ kind: 'invalid', code: 'unknown_sku', details: { sku } });
const receive = (tenantId: string, sku: string, locationId = main, quantity = 5) =>
  h.domain.movements.apply(tenantId, { type: 'receive', sku, locationId, quantity });
/** Every trace a movement of this SKU could leave, across tenants (superuser). */
const traces = async (sku: string) => {
  const [row] = await h.admin(
    `SELECT (SELECT count(*) FROM inventory.stock_levels WHERE sku = $1)::int AS levels,
            (SELECT count(*) FROM inventory.ledger WHERE sku = $1)::int AS ledger,
            (SELECT count(*) FROM inventory.outbox_events WHERE envelope->'data'->>'sku' = $1)::int AS events`,
    [sku],
  );
  return row;
};
const variantRows = (variantId: string) =>
  h.admin(`SELECT tenant_id, sku, status, version FROM inventory.catalog_variants WHERE variant_id = $1`, [variantId]);

describe('movements of SKUs the catalog does not have', () => {
  it('refuses a receive of a SKU no catalog announced (422 unknown_sku) and writes nothing', async () => {
    await expect(receive(tenant, 'GHOST-1')).rejects.toEqual(unknownSku('GHOST-1'));
    await expect(receive(tenant, 'GHOST-1')).rejects.toBeInstanceOf(InventoryError);
    expect(await traces('GHOST-1')).toEqual({ levels: 0, ledger: 0, events: 0 });
  });

  it("refuses another tenant's SKU just the same", async () => {
    await h.knowSkus(tenant, 'MINE-1');
    await expect(receive(other, 'MINE-1', theirs)).rejects.toEqual(unknownSku('MINE-1'));
    expect(await h.domain.catalog.variantsOf(other, 'MINE-1')).toEqual([]);
    expect(await h.domain.catalog.variantsOf(tenant, 'MINE-1')).toHaveLength(1);
    expect(await traces('MINE-1')).toEqual({ levels: 0, ledger: 0, events: 0 });
    // The read model is a tenant table: the runtime role sees only the tenant of its transaction.
    const seen = await h.domain.tenants.run(other, (tx) => tx.manager.query(`SELECT sku FROM catalog_variants WHERE sku = 'MINE-1'`));
    expect(seen).toEqual([]);
  });

  it('accepts the SKU once catalog.variant.created has arrived', async () => {
    await expect(receive(tenant, 'LATE-1')).rejects.toEqual(unknownSku('LATE-1'));
    await h.knowSkus(tenant, 'LATE-1');
    const { levels } = await receive(tenant, 'LATE-1');
    expect(levels).toEqual([expect.objectContaining({ sku: 'LATE-1', locationId: main, onHand: 5 })]);
    expect(await traces('LATE-1')).toEqual({ levels: 1, ledger: 1, events: 1 });
  });

  it('refuses adjust, transfer and a reorder policy that would create a row for an unknown SKU', async () => {
    await expect(h.domain.movements.apply(tenant, { type: 'adjust', sku: 'GHOST-2', locationId: main, quantity: 4, reason: 'found' })).rejects.toEqual(unknownSku('GHOST-2'));
    await expect(h.domain.movements.apply(tenant, { type: 'transfer', sku: 'GHOST-2', locationId: main, toLocationId: backup, quantity: 1 })).rejects.toEqual(unknownSku('GHOST-2'));
    await expect(h.domain.movements.setReorderPolicy(tenant, { sku: 'GHOST-2', locationId: main, reorderPoint: 1, reorderQuantity: 5 })).rejects.toEqual(unknownSku('GHOST-2'));
    expect(await traces('GHOST-2')).toEqual({ levels: 0, ledger: 0, events: 0 });
  });

  it('accepts SKUs of draft and archived products (stock may arrive before launch, returns after)', async () => {
    for (const [sku, status] of [['DRAFT-1', 'draft'], ['ARCH-1', 'archived']] as const) {
      await h.catalog.onVariantCreated(variantEvent(catalogVariant(tenant, sku, { status })));
      expect((await receive(tenant, sku)).levels[0]).toMatchObject({ sku, onHand: 5 });
    }
    // A product archived later: its variants' effective status moves (catalog.variant.updated), the SKU stays known.
    const v = catalogVariant(tenant, 'ARCH-2');
    await h.catalog.onVariantCreated(variantEvent(v));
    await h.catalog.onVariantUpdated(variantEvent({ ...v, status: 'archived', version: 2 }));
    expect(await variantRows(v.variantId)).toEqual([{ tenant_id: tenant, sku: 'ARCH-2', status: 'archived', version: 2 }]);
    expect((await receive(tenant, 'ARCH-2')).levels[0]).toMatchObject({ onHand: 5 });
  });
});

describe('catalog events → catalog_variants', () => {
  it('absorbs a redelivered event through the inbox: one row, one processed event', async () => {
    const event = variantEvent(catalogVariant(tenant, 'DUP-1'));
    await h.catalog.onVariantCreated(event);
    await h.catalog.onVariantCreated(event);
    await Promise.all([h.catalog.onVariantCreated(event), h.catalog.onVariantCreated(event)]);
    expect(await variantRows(event.data.variantId)).toEqual([{ tenant_id: tenant, sku: 'DUP-1', status: 'active', version: 1 }]);
    const processed = await h.admin(`SELECT consumer_group, tenant_id FROM inventory.processed_events WHERE event_id = $1`, [event.id]);
    expect(processed).toEqual([{ consumer_group: 'inventory', tenant_id: tenant }]);
    // Another delivery of the same change (a new event id, the same version) changes nothing either.
    await h.catalog.onVariantCreated(variantEvent({ ...event.data, status: 'archived' }));
    expect(await variantRows(event.data.variantId)).toEqual([{ tenant_id: tenant, sku: 'DUP-1', status: 'active', version: 1 }]);
  });

  it('keeps the newest version when events arrive out of order (a SKU renamed in the catalog)', async () => {
    const v1 = catalogVariant(tenant, 'OLD-NAME');
    const v2 = { ...v1, sku: 'NEW-NAME', version: 2 };
    const v3 = { ...v1, sku: 'NEW-NAME', status: 'archived' as const, version: 3 };
    // v3 first, then v1 and v2 late.
    await h.catalog.onVariantUpdated(variantEvent(v3, CatalogEventTypes.VariantUpdated));
    await h.catalog.onVariantCreated(variantEvent(v1, CatalogEventTypes.VariantCreated));
    await h.catalog.onVariantUpdated(variantEvent(v2, CatalogEventTypes.VariantUpdated));
    expect(await variantRows(v1.variantId)).toEqual([{ tenant_id: tenant, sku: 'NEW-NAME', status: 'archived', version: 3 }]);
    await expect(receive(tenant, 'OLD-NAME')).rejects.toEqual(unknownSku('OLD-NAME'));
    expect((await receive(tenant, 'NEW-NAME')).levels[0]).toMatchObject({ sku: 'NEW-NAME', onHand: 5 });
    const v4 = { ...v1, sku: 'NEWER-NAME', status: 'active' as const, version: 4 };
    await h.catalog.onVariantUpdated(variantEvent(v4, CatalogEventTypes.VariantUpdated));
    expect(await variantRows(v1.variantId)).toEqual([{ tenant_id: tenant, sku: 'NEWER-NAME', status: 'active', version: 4 }]);
  });

  it('lets the stock of a SKU the catalog renamed since be counted and moved out, but not received', async () => {
    const v = catalogVariant(tenant, 'RENAMED-A');
    await h.catalog.onVariantCreated(variantEvent(v));
    await receive(tenant, 'RENAMED-A', main, 10);
    await h.catalog.onVariantUpdated(variantEvent({ ...v, sku: 'RENAMED-B', version: 2 }));
    await expect(receive(tenant, 'RENAMED-A')).rejects.toEqual(unknownSku('RENAMED-A'));
    await h.domain.movements.apply(tenant, { type: 'adjust', sku: 'RENAMED-A', locationId: main, quantity: -4, reason: 'count' });
    await h.domain.movements.apply(tenant, { type: 'transfer', sku: 'RENAMED-A', locationId: main, toLocationId: backup, quantity: 6 });
    await h.domain.movements.setReorderPolicy(tenant, { sku: 'RENAMED-A', locationId: main, reorderPoint: 0, reorderQuantity: 0 });
    const levels = await h.domain.queries.levels(tenant, { sku: 'RENAMED-A' });
    expect(levels.map((l) => [l.locationId === main ? 'main' : 'backup', l.onHand]).sort()).toEqual([['backup', 6], ['main', 0]]);
    // Only the rows that exist: adjusting it up in a location where it never was is refused.
    const elsewhere = (await h.domain.locations.create(tenant, { code: 'THIRD', name: 'Third' })).id;
    await expect(h.domain.movements.apply(tenant, { type: 'adjust', sku: 'RENAMED-A', locationId: elsewhere, quantity: 1, reason: 'found' })).rejects.toEqual(unknownSku('RENAMED-A'));
    expect(await ledgerMismatches(h)).toEqual([]);
  });

  it('skips (logs) a malformed payload without a row or an inbox entry, so the partition moves on', async () => {
    const good = catalogVariant(tenant, 'MALFORMED-1');
    const logged = jest.spyOn((h.catalog as unknown as { log: Logger }).log, 'error').mockImplementation(() => undefined);
    for (const data of [{ ...good, variantId: 'nope' }, { ...good, sku: '' }, { ...good, sku: 'x'.repeat(129) }, { ...good, version: 1.5 }, { ...good, status: undefined }]) {
      const event = variantEvent(data as never, CatalogEventTypes.VariantCreated);
      await expect(h.catalog.onVariantCreated(event)).resolves.toBeUndefined();
      expect(await h.admin(`SELECT 1 FROM inventory.processed_events WHERE event_id = $1`, [event.id])).toEqual([]);
    }
    expect(logged).toHaveBeenCalledTimes(5);
    logged.mockRestore();
    expect(await h.admin(`SELECT 1 FROM inventory.catalog_variants WHERE variant_id = $1`, [good.variantId])).toEqual([]);
    await expect(receive(tenant, 'MALFORMED-1')).rejects.toEqual(unknownSku('MALFORMED-1'));
  });

  it('scopes rows by the event tenant: the same variant id in two tenants is two rows', async () => {
    const variantId = randomUUID();
    await h.catalog.onVariantCreated(variantEvent(catalogVariant(tenant, 'TWIN-A', { variantId })));
    await h.catalog.onVariantCreated(variantEvent(catalogVariant(other, 'TWIN-B', { variantId })));
    expect((await variantRows(variantId)).map((r) => [r.tenant_id === tenant ? 'tenant' : 'other', r.sku]).sort()).toEqual([
      ['other', 'TWIN-B'],
      ['tenant', 'TWIN-A'],
    ]);
    await expect(receive(other, 'TWIN-A', theirs)).rejects.toEqual(unknownSku('TWIN-A'));
    expect((await receive(other, 'TWIN-B', theirs)).levels[0]).toMatchObject({ onHand: 5 });
  });

  it("takes the catalog's republish (catalog:republish: catalog.variant.updated with the current version, changed: []): equal or older changes nothing, a missing SKU is created", async () => {
    const republish = (data: VariantEventV1) => variantEvent({ ...data, changed: [] } as VariantEventV1, CatalogEventTypes.VariantUpdated);
    const held = catalogVariant(tenant, 'REP-1', { version: 3 });
    await h.catalog.onVariantUpdated(variantEvent(held, CatalogEventTypes.VariantUpdated));
    // Equal, then older: a differing status and SKU make a wrongful overwrite visible.
    for (const version of [3, 2]) await h.catalog.onVariantUpdated(republish({ ...held, sku: 'REP-X', status: 'archived', version }));
    expect(await variantRows(held.variantId)).toEqual([{ tenant_id: tenant, sku: 'REP-1', status: 'active', version: 3 }]);
    await expect(receive(tenant, 'REP-X')).rejects.toEqual(unknownSku('REP-X'));

    // A SKU whose catalog.variant.created was pruned before inventory's group started: known once republished.
    const old = catalogVariant(tenant, 'REP-OLD', { version: 5 });
    await expect(receive(tenant, 'REP-OLD')).rejects.toEqual(unknownSku('REP-OLD'));
    await h.catalog.onVariantUpdated(republish(old));
    expect(await variantRows(old.variantId)).toEqual([{ tenant_id: tenant, sku: 'REP-OLD', status: 'active', version: 5 }]);
    expect((await receive(tenant, 'REP-OLD')).levels[0]).toMatchObject({ sku: 'REP-OLD', onHand: 5 });
  });
});

describe('the condition a variant sells', () => {
  it("puts a movement or reorder policy without a condition in the variant's condition, the one orders reserve", async () => {
    const used = catalogVariant(tenant, 'USED-1', { condition: 'used' });
    await h.catalog.onVariantCreated(variantEvent(used));
    expect(await variantRows(used.variantId)).toEqual([expect.objectContaining({ sku: 'USED-1' })]);
    expect((await h.domain.catalog.variantsOf(tenant, 'USED-1'))[0]).toMatchObject({ condition: 'used' });

    // Received without a condition: used stock, not new stock no order could take.
    expect((await receive(tenant, 'USED-1')).levels[0]).toMatchObject({ condition: 'used', onHand: 5 });
    await h.domain.movements.apply(tenant, { type: 'transfer', sku: 'USED-1', locationId: main, toLocationId: backup, quantity: 2 });
    await h.domain.movements.apply(tenant, { type: 'adjust', sku: 'USED-1', locationId: main, quantity: -1, reason: 'damage' });
    expect(await h.domain.movements.setReorderPolicy(tenant, { sku: 'USED-1', locationId: main, reorderPoint: 1, reorderQuantity: 4 })).toMatchObject({ condition: 'used' });
    const rows = await h.admin(`SELECT location_id, condition, on_hand FROM inventory.stock_levels WHERE sku = 'USED-1' ORDER BY location_id = $1 DESC`, [main]);
    expect(rows).toEqual([
      { location_id: main, condition: 'used', on_hand: 2 },
      { location_id: backup, condition: 'used', on_hand: 2 },
    ]);
    // As orders asks (the variant's condition): all four are there.
    const reserved = await h.domain.reservations.reserve(tenant, { reference: 'used-order', lines: [{ sku: 'USED-1', quantity: 4, condition: 'used' }] });
    expect(reserved.status).toBe('confirmed');

    // Asked for on purpose, the other condition is still stock on the shelf (a return waiting to be regraded).
    expect((await h.domain.movements.apply(tenant, { type: 'receive', sku: 'USED-1', locationId: main, quantity: 1, condition: 'new' })).levels[0]).toMatchObject({ condition: 'new', onHand: 1 });
    expect(await ledgerMismatches(h)).toEqual([]);
  });

  it('follows the variant when the catalog changes its condition, and counts a variant from before conditions were kept as new', async () => {
    const v = catalogVariant(tenant, 'COND-1');
    await h.catalog.onVariantCreated(variantEvent(v));
    expect((await receive(tenant, 'COND-1')).levels[0]).toMatchObject({ condition: 'new' });
    await h.catalog.onVariantUpdated(variantEvent({ ...v, version: 2, condition: 'used' }));
    expect((await receive(tenant, 'COND-1')).levels[0]).toMatchObject({ condition: 'used' });

    // A row written before the column existed has no condition: new, as before.
    const old = catalogVariant(tenant, 'OLD-COND-1', { condition: 'used' });
    await h.catalog.onVariantCreated(variantEvent(old));
    await h.admin(`UPDATE inventory.catalog_variants SET condition = NULL WHERE variant_id = $1`, [old.variantId]);
    expect((await receive(tenant, 'OLD-COND-1')).levels[0]).toMatchObject({ condition: 'new' });
  });
});
