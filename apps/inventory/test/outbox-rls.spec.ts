import { OutboxRelay, OutboxWriter, PostgresTransport } from '@tessera/messaging';
import { createServiceDataSource, runtimeDatabaseUrl, TenantTransactions } from '@tessera/persistence';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { INVENTORY_SCHEMA } from '../src/migrations';
import { newTenant, PASSWORD, startHarness, type Harness } from './harness';

/**
 * The outbox holds tenant data (every event's payload), so it is under forced RLS like the other tenant tables; only
 * the relay's own session (and its statistics) sees every tenant's rows. Runs on the runtime role.
 */
describe('the outbox under RLS', () => {
  let h: Harness;
  const [a, b] = [newTenant(), newTenant()];
  let main: Record<string, string>;

  beforeAll(async () => {
    h = await startHarness();
    main = {};
    for (const tenant of [a, b]) {
      await h.knowSkus(tenant, 'RLS-1');
      main[tenant] = (await h.domain.locations.create(tenant, { code: 'MAIN', name: 'Main' })).id;
      await h.domain.movements.apply(tenant, { type: 'receive', sku: 'RLS-1', locationId: main[tenant], quantity: 3 });
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  const pendingOf = async (tenant: string) =>
    Number((await h.admin(`SELECT count(*) AS n FROM inventory.outbox_events WHERE tenant_id = $1 AND published_at IS NULL`, [tenant]))[0].n);

  /** What the runtime role sees of the outbox with `app.tenant_id` set to `tenant` (or not set at all). */
  const visible = (ds: DataSource, tenant?: string) =>
    ds.transaction(async (m) => {
      if (tenant) await m.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenant]);
      const rows: { tenant_id: string }[] = await m.query(`SELECT tenant_id FROM inventory.outbox_events`);
      return rows.map((r) => r.tenant_id);
    });

  it("shows a transaction only its tenant's events, and none without a tenant", async () => {
    expect(await pendingOf(a)).toBeGreaterThan(0);
    expect(await pendingOf(b)).toBeGreaterThan(0);
    expect(await visible(h.ds)).toEqual([]);
    const seenByA = await visible(h.ds, a);
    expect(seenByA.length).toBe(await pendingOf(a));
    expect(new Set(seenByA)).toEqual(new Set([a]));
  });

  it("refuses an event written under another tenant's setting, and writes nothing", async () => {
    const before = await pendingOf(b);
    const writer = new OutboxWriter({ context: 'inventory', schema: INVENTORY_SCHEMA });
    // As service code writes: in a tenant transaction (whose end also reports a pipelined statement's failure).
    await expect(
      new TenantTransactions(h.ds).run(a, (tx) =>
        writer.append({ manager: tx.manager, tenantId: b }, { type: 'inventory.stock.changed', subject: 'x', data: {} }),
      ),
    ).rejects.toThrow(/row-level security/);
    expect(await pendingOf(b)).toBe(before);
  });

  it("lets the relay publish every tenant's events, and gives its connection back without that view", async () => {
    // One connection: the relay's session and the query after it are the same backend.
    const ds = await createServiceDataSource({
      url: runtimeDatabaseUrl(h.db.url, INVENTORY_SCHEMA, PASSWORD),
      schema: INVENTORY_SCHEMA,
      entities: [],
      poolSize: 1,
    }).initialize();
    const transport = new PostgresTransport({ url: runtimeDatabaseUrl(h.db.url, INVENTORY_SCHEMA, PASSWORD), onError: () => undefined });
    const registry = new Registry();
    const relay = new OutboxRelay({ dataSource: ds, schema: INVENTORY_SCHEMA, transport, registry, logger: { warn: () => undefined } });
    try {
      const pending = (await pendingOf(a)) + (await pendingOf(b));
      expect(await relay.flush()).toBe(pending);
      expect([await pendingOf(a), await pendingOf(b)]).toEqual([0, 0]);
      const logged = await h.admin(`SELECT DISTINCT envelope->>'tenantid' AS tenant FROM messaging.events WHERE topic = 'tessera.inventory.events'`);
      expect(new Set(logged.map((r) => r.tenant))).toEqual(new Set([a, b]));

      // flush() without start() gives the lock and the connection back: the next transaction on that very backend
      // sees only what its tenant setting allows again.
      await h.domain.movements.apply(b, { type: 'receive', sku: 'RLS-1', locationId: main[b], quantity: 1 });
      expect(await visible(ds)).toEqual([]);
      expect(await visible(ds, a)).toEqual([]);
      expect(await visible(ds, b)).toEqual([b]);
    } finally {
      await transport.close();
      await ds.destroy();
    }
  });
});
