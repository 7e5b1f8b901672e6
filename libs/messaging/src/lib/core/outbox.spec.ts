import { randomUUID } from 'node:crypto';
import type { EventEnvelope } from '@tessera/contracts';
import { inTransaction } from '@tessera/persistence';
import { createTestDatabase } from '@tessera/testing';
import type { TestDatabase } from '@tessera/testing';
import { runWithTraceparent } from '@tessera/service-kit';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { Inbox } from './inbox';
import { messagingTablesMigration } from './messaging-tables.migration';
import { OutboxRelay } from './outbox-relay';
import type { OutboxRelayOptions } from './outbox-relay';
import { OutboxWriter } from './outbox-writer';
import type { ConsumerHandle, EventTransport } from './transport.port';

/**
 * A recording EventTransport: the relay's collaborator, used here to observe publish order and to
 * make publishing fail on demand. The database is real; transports are covered by the contract suite.
 */
class RecordingTransport implements EventTransport {
  readonly kind = 'postgres' as const;
  readonly published: EventEnvelope[] = [];
  failuresLeft = 0;
  calls = 0;
  /** @param delayMs how long each publish takes (a slow broker) */
  constructor(private readonly delayMs = 0) {}
  async connect(): Promise<void> {
    return undefined;
  }
  async publish(_topic: string, events: EventEnvelope[]): Promise<void> {
    this.calls++;
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new Error('broker unavailable');
    }
    this.published.push(...events);
  }
  async subscribe(): Promise<ConsumerHandle> {
    throw new Error('not used');
  }
  async close(): Promise<void> {
    return undefined;
  }
  async ping(): Promise<void> {
    return undefined;
  }
}

const SCHEMA = 'svc';
const TENANT = '0b8f5d3e-8f0a-4a55-9b0e-2d8f7c1e4a01';

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('outbox, relay and inbox on PostgreSQL', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const writer = new OutboxWriter({ context: 'identity', schema: SCHEMA });
  const relays: OutboxRelay[] = [];

  const relay = (transport: EventTransport, extra: Partial<OutboxRelayOptions> = {}): OutboxRelay => {
    const r = new OutboxRelay({
      dataSource: ds,
      schema: SCHEMA,
      transport,
      pollIntervalMs: 1000,
      lockRetryMs: 100,
      backoff: { initialMs: 20, maxMs: 100 },
      registry: new Registry(),
      logger: { warn: () => undefined },
      ...extra,
    });
    relays.push(r);
    return r;
  };

  /** A started relay that holds the lock and polls only every 5 s: what reaches it sooner came from a commit's nudge. */
  const idleRelay = async (transport: EventTransport): Promise<OutboxRelay> => {
    const r = relay(transport, { pollIntervalMs: 5000 });
    r.start();
    await waitFor('relay active', () => r.isActive);
    await new Promise((res) => setTimeout(res, 100));
    return r;
  };

  const append = (subject: string, seq: number) =>
    ds.transaction((manager) => writer.append({ manager, tenantId: TENANT }, { type: 'identity.user.created', subject, data: { seq } }));

  beforeAll(async () => {
    db = await createTestDatabase('outbox');
    ds = new DataSource({
      type: 'postgres',
      url: db.url,
      migrations: [messagingTablesMigration(SCHEMA)],
      migrationsTableName: 'svc_migrations',
    });
    await ds.initialize();
    await ds.query(`CREATE SCHEMA ${SCHEMA}`);
    await ds.runMigrations();
  });

  afterEach(async () => {
    while (relays.length) await (relays.pop() as OutboxRelay).stop();
    await ds.query(`TRUNCATE ${SCHEMA}.outbox_events, ${SCHEMA}.processed_events`);
  });

  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  it('migration creates the tables and reverts cleanly', async () => {
    const tables = await ds.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
      [SCHEMA],
    );
    expect(tables.map((t: { table_name: string }) => t.table_name)).toEqual(['outbox_events', 'processed_events']);
    await ds.undoLastMigration();
    const after = await ds.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1`, [SCHEMA]);
    expect(after[0].n).toBe(0);
    await ds.runMigrations();
  });

  it('appends inside the caller transaction: a rollback leaves no event', async () => {
    await expect(
      ds.transaction(async (manager) => {
        await writer.append({ manager, tenantId: TENANT }, { type: 'identity.user.created', subject: 'u1', data: {} });
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    const e = await append('u2', 1);
    const rows = await ds.query(`SELECT id, topic, partition_key, type, tenant_id, envelope FROM ${SCHEMA}.outbox_events`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: e.id, topic: 'tessera.identity.events', partition_key: 'u2', tenant_id: TENANT });
    expect(rows[0].envelope).toEqual(e);
    expect(e.source).toBe('identity');
  });

  it('stamps events with the trace of the request or event being handled, unless the caller gives one', async () => {
    const trace = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const own = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    const [inTrace, explicit] = await runWithTraceparent(trace, () =>
      ds.transaction((manager) =>
        writer.appendAll({ manager, tenantId: TENANT }, [
          { type: 'identity.user.created', subject: 't1', data: {} },
          { type: 'identity.user.created', subject: 't2', data: {}, traceparent: own },
        ]),
      ),
    );
    expect(inTrace.traceparent).toBe(trace);
    expect(explicit.traceparent).toBe(own);
    const outside = await ds.transaction((manager) => writer.append({ manager, tenantId: TENANT }, { type: 'identity.user.created', subject: 't3', data: {} }));
    expect(outside.traceparent).toBeUndefined();
    const rows = await ds.query(`SELECT partition_key, envelope->>'traceparent' AS tp FROM ${SCHEMA}.outbox_events WHERE partition_key LIKE 't_' ORDER BY seq`);
    expect(rows).toEqual([{ partition_key: 't1', tp: trace }, { partition_key: 't2', tp: own }, { partition_key: 't3', tp: null }]);
    await ds.query(`DELETE FROM ${SCHEMA}.outbox_events`);
  });

  it('publishes in seq order, marks rows, and wakes on commit without waiting for the poll', async () => {
    const t = new RecordingTransport();
    await idleRelay(t);
    const started = Date.now();
    const written = [await append('a', 1), await append('b', 1), await append('a', 2)];
    await waitFor('published', () => t.published.length === 3, 4500);
    // The commit subscriber nudged the relay: quicker than the 5 s poll, with room for a busy CI machine.
    expect(Date.now() - started).toBeLessThan(4000);
    expect(t.published.map((e) => e.id)).toEqual(written.map((e) => e.id));
    // Without a retention, published rows are deleted as they are published.
    await waitFor('deleted', async () => (await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.outbox_events`))[0].n === 0);
  });

  it('wakes on the commit of a service transaction too (persistence inTransaction, which reads the COMMIT itself)', async () => {
    const t = new RecordingTransport();
    await idleRelay(t);
    const started = Date.now();
    const written = await inTransaction(ds, (manager) =>
      writer.append({ manager, tenantId: TENANT }, { type: 'identity.user.created', subject: 'svc', data: {} }),
    );
    await waitFor('published', () => t.published.length === 1, 4500);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(t.published[0].id).toBe(written.id);
  });

  it('does not skip a row whose transaction took its seq early and committed late', async () => {
    const t = new RecordingTransport();
    const r = relay(t, { pollIntervalMs: 50 });
    r.start();
    const runner = ds.createQueryRunner();
    await runner.startTransaction();
    const late = await writer.append({ manager: runner.manager, tenantId: TENANT }, { type: 'x.y.z', subject: 'late', data: {} });
    const early = await append('early', 1);
    await waitFor('the committed row published', () => t.published.some((e) => e.id === early.id));
    expect(t.published.some((e) => e.id === late.id)).toBe(false);
    await runner.commitTransaction();
    await runner.release();
    await waitFor('the late row published too', () => t.published.some((e) => e.id === late.id));
  });

  it('on transport failure retries the same batch first with backoff, keeping order', async () => {
    const t = new RecordingTransport();
    const registry = new Registry();
    const written = [];
    for (let i = 1; i <= 5; i++) written.push(await append('k', i));
    t.failuresLeft = 3;
    // Kept after publishing, to read the attempts the failures counted.
    const r = relay(t, { registry, pollIntervalMs: 50, batchSize: 2, retentionMs: 3_600_000 });
    r.start();
    await waitFor('all published', () => t.published.length >= 5);
    expect(t.published.map((e) => e.id)).toEqual(written.map((e) => e.id));
    expect(t.calls).toBeGreaterThanOrEqual(3 + 3);
    const failures = await registry.getSingleMetric('outbox_publish_failures_total')?.get();
    expect(failures?.values[0].value).toBe(3);
    // Counted once marked, which follows the publish.
    await waitFor('marked', async () => (await registry.getSingleMetric('outbox_published_total')?.get())?.values[0]?.value === 5);
    const [{ attempts }] = await ds.query(`SELECT attempts FROM ${SCHEMA}.outbox_events WHERE id = $1`, [written[0].id]);
    expect(attempts).toBe(3);
  });

  it('only one relay is active per schema; the standby takes over when the active one stops', async () => {
    const t1 = new RecordingTransport();
    const t2 = new RecordingTransport();
    const r1 = relay(t1, { pollIntervalMs: 50 });
    r1.start();
    await waitFor('r1 active', () => r1.isActive);
    const r2 = relay(t2, { pollIntervalMs: 50 });
    r2.start();
    await append('a', 1);
    await waitFor('published by r1', () => t1.published.length === 1);
    expect(r2.isActive).toBe(false);
    expect(t2.published).toHaveLength(0);
    await r1.stop();
    await append('a', 2);
    await waitFor('published by r2', () => t2.published.length === 1);
    expect(r2.isActive).toBe(true);
  });

  it('stop() flushes what is pending; backlog metrics and pruning work', async () => {
    const t = new RecordingTransport();
    const registry = new Registry();
    const r = relay(t, { registry, pollIntervalMs: 60_000, statsIntervalMs: 50, retentionMs: 3_600_000 });
    // Written with raw SQL-free appends but before start: only the stats timer sees them first.
    await append('a', 1);
    await append('b', 1);
    t.failuresLeft = 1_000_000;
    r.start();
    await waitFor('backlog gauge', async () => (await registry.getSingleMetric('outbox_backlog')?.get())?.values[0]?.value === 2);
    const age = await registry.getSingleMetric('outbox_oldest_age_seconds')?.get();
    expect(age?.values[0].value).toBeGreaterThanOrEqual(0);
    t.failuresLeft = 0;
    await r.flush();
    expect(t.published).toHaveLength(2);
    await append('c', 1);
    await r.stop();
    expect(t.published.map((e) => e.subject)).toEqual(['a', 'b', 'c']);
    // Kept for an hour, the published rows are marked rather than deleted...
    const [{ kept }] = await ds.query(`SELECT count(*)::int AS kept FROM ${SCHEMA}.outbox_events WHERE published_at IS NOT NULL`);
    expect(kept).toBe(3);
    // ...and a relay with a shorter retention (0 here) prunes them.
    const r2 = relay(t, { retentionMs: 0 });
    await r2.flush();
    expect(await r2.prune()).toBe(3);
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.outbox_events`);
    expect(n).toBe(0);
  });

  it('stop() keeps to stopTimeoutMs when publishing is slow, releases the lock, and leaves the rest for the next relay', async () => {
    for (let i = 0; i < 40; i++) await append(`slow-${i}`, i);
    const slow = new RecordingTransport(1_000);
    const warnings: string[] = [];
    const r = relay(slow, { batchSize: 10, pollIntervalMs: 60_000, stopTimeoutMs: 300, logger: { warn: (m: string) => warnings.push(m) } });
    r.start();
    await waitFor('relay active', () => r.isActive);
    const started = Date.now();
    await r.stop();
    // The deadline, plus a moment to close the abandoned session; before, it waited for every batch (4 s here).
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(warnings.some((w) => /final flush incomplete/.test(w))).toBe(true);
    // The lock is free: the next relay takes over and publishes what is left, in order, nothing lost.
    const next = new RecordingTransport();
    const r2 = relay(next);
    await r2.flush();
    const all = [...slow.published, ...next.published].map((e) => e.subject);
    expect(new Set(all)).toEqual(new Set(Array.from({ length: 40 }, (_, i) => `slow-${i}`)));
    expect(next.published.map((e) => (e.data as { seq: number }).seq)).toEqual([...next.published.map((e) => (e.data as { seq: number }).seq)].sort((x, y) => x - y));
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.outbox_events WHERE published_at IS NULL`);
    expect(n).toBe(0);
  });

  it("stop() also keeps to the deadline it is given (the process's shutdown deadline) when that comes first", async () => {
    for (let i = 0; i < 20; i++) await append(`due-${i}`, i);
    const slow = new RecordingTransport(1_000);
    const r = relay(slow, { batchSize: 5, pollIntervalMs: 60_000, stopTimeoutMs: 10_000 });
    r.start();
    await waitFor('relay active', () => r.isActive);
    const started = Date.now();
    await r.stop({ deadline: started + 300 });
    expect(Date.now() - started).toBeLessThan(1_500);
    // The abandoned session has ended by the time stop() resolves: its lock is free for the next relay at once.
    const [{ held }] = await ds.query(
      `SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    expect(held).toBe(0);
    const next = new RecordingTransport();
    await relay(next).flush();
    expect(new Set([...slow.published, ...next.published].map((e) => e.subject)).size).toBe(20);
  });

  it('prunes the inbox records of events handled longer ago than inboxRetentionMs, and keeps the rest', async () => {
    const ids = Array.from({ length: 3 }, () => randomUUID());
    await ds.query(
      `INSERT INTO ${SCHEMA}.processed_events (consumer_group, event_id, tenant_id, processed_at)
       VALUES ('g', $1, $4, now() - interval '31 days'), ('g', $2, $4, now() - interval '29 days'), ('g', $3, $4, now())`,
      [...ids, TENANT],
    );
    const r = relay(new RecordingTransport());
    expect(await r.pruneInbox()).toBe(1);
    const left = await ds.query(`SELECT event_id FROM ${SCHEMA}.processed_events ORDER BY processed_at`);
    expect(left.map((row: { event_id: string }) => row.event_id)).toEqual(ids.slice(1));
    const shorter = relay(new RecordingTransport(), { inboxRetentionMs: 86_400_000 });
    expect(await shorter.pruneInbox()).toBe(1);
    expect(await r.pruneInbox()).toBe(0);
  });

  it('inbox: the effect and the event id commit together; a duplicate changes nothing; the tenant is set', async () => {
    await ds.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.counter (n int NOT NULL, tenant text)`);
    const inbox = new Inbox({ dataSource: ds, schema: SCHEMA, groupId: 'g1' });
    const event = await append('u1', 1);
    const effect = async (tx: { manager: DataSource['manager'] }): Promise<void> => {
      await tx.manager.query(`INSERT INTO ${SCHEMA}.counter (n, tenant) VALUES (1, current_setting('app.tenant_id', true))`);
    };
    // A failing effect rolls back the inbox row too, so the retry applies it.
    await expect(
      inbox.run(event, async (tx) => {
        await effect(tx);
        throw new Error('handler failed');
      }),
    ).rejects.toThrow('handler failed');
    expect(await inbox.run(event, effect)).toBe('applied');
    expect(await inbox.run(event, effect)).toBe('duplicate');
    expect(await Inbox.run({ dataSource: ds, schema: SCHEMA, groupId: 'g1' }, event, effect)).toBe('duplicate');
    // Another group is another consumer: it applies its own effect once.
    expect(await Inbox.run({ dataSource: ds, schema: SCHEMA, groupId: 'g2' }, event, effect)).toBe('applied');
    const rows = await ds.query(`SELECT n, tenant FROM ${SCHEMA}.counter`);
    expect(rows).toEqual([
      { n: 1, tenant: TENANT },
      { n: 1, tenant: TENANT },
    ]);
    // SET LOCAL semantics: the tenant does not leak out of the transaction.
    const [{ t }] = await ds.query(`SELECT current_setting('app.tenant_id', true) AS t`);
    expect(t ?? '').toBe('');
    const dup = { ...event, id: randomUUID() };
    expect(await inbox.run(dup, effect)).toBe('applied');
  });
});
